//! Small text helpers over indicator names and units.

use alloc::borrow::Cow;
use alloc::string::String;

/// "%", "％", "百分比" (and the same with spaces).
pub fn is_percent_unit(unit: &str) -> bool {
    matches!(unit.trim(), "%" | "％" | "百分比" | "百分率")
}

pub fn ends_with_percent(value: &str) -> bool {
    let v = value.trim_end();
    v.ends_with('%') || v.ends_with('％')
}

/// A name without any whitespace, for comparing names as people read them. Borrows the name
/// when it has no whitespace (the usual case), so matching allocates nothing.
pub fn squeeze(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_whitespace) {
        Cow::Owned(name.chars().filter(|c| !c.is_whitespace()).collect())
    } else {
        Cow::Borrowed(name)
    }
}

pub fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    Name::squeezed(haystack).contains_any(needles)
}

/// True when every part of one of the groups occurs in `name`.
pub fn matches_any_group(name: &str, groups: &[&[&str]]) -> bool {
    Name::squeezed(name).matches_any_group(groups)
}

/// A squeezed name prepared for many substring tests: it carries a 64-bit set of (hashed)
/// characters, so a needle with a character the name lacks is rejected without a scan. Names
/// are short and the word lists long, so most tests end there.
pub struct Name<'a> {
    text: Cow<'a, str>,
    chars: u64,
}

impl<'a> Name<'a> {
    /// Prepares `name` with its whitespace removed.
    pub fn new(name: &'a str) -> Name<'a> {
        Name::squeezed(squeeze(name))
    }

    /// Prepares a name that has already been squeezed.
    pub fn squeezed(text: impl Into<Cow<'a, str>>) -> Name<'a> {
        let text = text.into();
        let chars = char_set(&text);
        Name { text, chars }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn contains(&self, needle: &str) -> bool {
        // The first character decides for most words of the lists.
        let first = needle.chars().next().map_or(0, char_bit);
        first & !self.chars == 0 && self.text.contains(needle)
    }

    pub fn contains_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.contains(n))
    }

    /// True when every part of one of the groups occurs in the name.
    pub fn matches_any_group(&self, groups: &[&[&str]]) -> bool {
        groups.iter().any(|g| !g.is_empty() && g.iter().all(|part| self.contains(part)))
    }
}

/// One bit per character, by a multiplicative hash of its code point.
fn char_set(s: &str) -> u64 {
    s.chars().fold(0, |set, c| set | char_bit(c))
}

fn char_bit(c: char) -> u64 {
    1 << ((c as u32).wrapping_mul(0x9E37_79B1) >> 26)
}

/// Stems of things that should be rare: an indicator naming one of them as a rate or a count
/// is "lower is better" and must be declared with ≤ (or =), not ≥.
pub const REVERSE_STEMS: &[&str] = &[
    "逾期",
    "投诉",
    "事故",
    "差错",
    "损失",
    "失误",
    "不合格",
    "故障",
    "辍学",
    "死亡",
    "流失",
    "返贫",
    "空置",
    "闲置",
    "超支",
    "误诊",
    "感染",
    "违规",
    "违纪",
    "拖欠",
    "漏报",
    "错报",
    "返工",
    "缺陷",
    "延误",
    "伤亡",
    "发病",
    "发生率",
    "失业",
    "超标",
    "退学",
    "病死",
    "误差",
    "偏差",
    "上访",
    "信访",
    "重复",
    "滞留",
    "积压",
    "欠薪",
    "冒领",
    "挪用",
    "截留",
    "坏账",
];

/// Words that turn a reverse stem into a "higher is better" measure: 投诉处理率, 事故隐患整改率,
/// 死亡率下降, 损失挽回率, 辍学学生劝返率 …
pub const REVERSE_EXEMPT: &[&str] = &[
    "处理",
    "办结",
    "解决",
    "整改",
    "查处",
    "回复",
    "答复",
    "处置",
    "结案",
    "下降",
    "降低",
    "减少",
    "消除",
    "挽回",
    "追回",
    "清偿",
    "化解",
    "防控",
    "排查",
    "知晓",
    "检出",
    "识别",
    "救治",
    "劝返",
    "复学",
    "控辍",
    "纠正",
    "追缴",
    "回收",
    "清理",
    "核查",
    "报告率",
    "治疗",
    "随访",
    "管理",
    "覆盖",
    "参保",
    "保险",
    "就业",
    "修复",
    "排除",
    "受理",
    "赔付",
    "理赔",
];

/// Suffixes that make a name a measure (a rate or a count) rather than an action.
const MEASURE_MARKS: &[&str] = &["率", "次数", "起数", "件数", "人数", "例数", "比例", "占比"];

/// True for a "lower is better" measure such as 逾期发放率, 投诉率, 安全事故发生次数.
pub fn is_reverse_sense(name: &str) -> bool {
    let n = Name::new(name);
    n.contains_any(REVERSE_STEMS) && n.contains_any(MEASURE_MARKS) && !n.contains_any(REVERSE_EXEMPT)
}

/// Words of change measures (增长率, 提高幅度, 同比 …), whose values may be negative or above 100%.
pub const CHANGE_WORDS: &[&str] = &[
    "增长", "增幅", "增速", "增加", "增收", "提高", "提升", "变动", "变化", "同比", "环比", "下降", "降低", "减少",
    "减幅",
];

pub fn is_change_measure(name: &str) -> bool {
    Name::new(name).contains_any(CHANGE_WORDS)
}

/// Fen per unit for a unit of total money ("元", "万元" …); `None` for other units, including
/// unit prices such as "元/亩".
pub fn money_unit_fen(unit: &str) -> Option<i64> {
    match unit.trim() {
        "分" => None, // ambiguous with a score; never a money unit on a form
        "元" | "人民币元" => Some(100),
        "千元" => Some(100_000),
        "万元" => Some(1_000_000),
        "百万元" => Some(100_000_000),
        "亿元" => Some(10_000_000_000),
        _ => None,
    }
}

/// A unit as compared with a library: trimmed, ASCII lower case, full-width "％" as "%".
pub fn normalize_unit(unit: &str) -> String {
    let t = unit.trim();
    if is_percent_unit(t) {
        return String::from("%");
    }
    t.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_sense_table() {
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("逾期发放率", true),
            ("资金逾期率", true),
            ("群众投诉率", true),
            ("安全事故发生率", true),
            ("安全事故发生次数", true),
            ("账务差错率", true),
            ("不良事件发生率", true),
            ("财产损失率", true),
            ("初中辍学率", true),
            ("孕产妇死亡率", true),
            ("投诉处理率", false),
            ("投诉办结率", false),
            ("事故隐患整改率", false),
            ("孕产妇死亡率下降", false),
            ("辍学学生劝返率", false),
            ("资金发放及时率", false),
            ("疫苗接种率", false),
            ("安全事故", false),
            ("艾滋病感染者治疗覆盖率", false),
            ("失业保险参保率", false),
            ("设备故障修复率", false),
            ("学生满意度", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_reverse_sense(name), *want, "{name}");
        }
    }

    #[test]
    fn change_measure_table() {
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("农民收入增长率", true),
            ("粮食单产提高", true),
            ("同比增幅", true),
            ("疫苗接种率", false),
            ("满意度", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_change_measure(name), *want, "{name}");
        }
    }

    #[test]
    fn units_table() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, Option<i64>, &str)] = &[
            ("%", true, None, "%"),
            (" ％ ", true, None, "%"),
            ("百分比", true, None, "%"),
            ("元", false, Some(100), "元"),
            ("万元", false, Some(1_000_000), "万元"),
            ("亿元", false, Some(10_000_000_000), "亿元"),
            ("元/亩", false, None, "元/亩"),
            ("KM", false, None, "km"),
            ("分", false, None, "分"),
            ("", false, None, ""),
        ];
        for (unit, pct, fen, norm) in cases {
            assert_eq!(is_percent_unit(unit), *pct, "{unit}");
            assert_eq!(money_unit_fen(unit), *fen, "{unit}");
            assert_eq!(normalize_unit(unit), *norm, "{unit}");
        }
    }

    #[test]
    fn groups_table() {
        #[rustfmt::skip]
        let cases: &[(&str, &[&[&str]], bool)] = &[
            ("适龄儿童免疫规划疫苗接种率", &[&["疫苗", "接种率"]], true),
            ("疫苗接种人数", &[&["疫苗", "接种率"]], false),
            ("x", &[&[]], false),
            ("高血压患者规范管理率", &[&["糖尿病"], &["高血压", "管理率"]], true),
        ];
        for (name, groups, want) in cases {
            assert_eq!(matches_any_group(name, groups), *want, "{name}");
        }
    }
}
