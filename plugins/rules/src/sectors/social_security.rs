//! 社会保障 (social security): minimum living allowance (低保), temporary relief, support for
//! people in extreme poverty (特困), residents' pension and medical insurance, the two
//! disability allowances.

use crate::sector::{Entry, Library, Programme, Sense};
use crate::sectors::{at_least, at_most};
use crate::{Level1, Operator, Severity};

const PCT: &[&str] = &["%"];
const PEOPLE: &[&str] = &["人", "人次", "户", "万人"];
const PAID_IN_FULL_ZH: &str = "救助、补贴和待遇资金是法定给付，应准确、按时、足额发放。";
const PAID_IN_FULL_EN: &str =
    "relief, allowances and benefits are legal entitlements and must be paid accurately, on time and in full.";

pub static LIBRARY: Library = Library {
    sector: "social_security",
    aliases: &["社会保障", "社会保障和就业", "社保", "民政", "社会保障和就业支出"],
    code_prefix: "social_security",
    name_zh: "社会保障",
    name_en: "social security",
    programmes: &[
        Programme {
            key: "minimum_living", name_zh: "最低生活保障", name_en: "minimum living allowance (低保)"
        },
        Programme { key: "temporary_relief", name_zh: "临时救助", name_en: "temporary relief" },
        Programme {
            key: "extreme_poverty",
            name_zh: "特困人员救助供养",
            name_en: "support for people in extreme poverty (特困)",
        },
        Programme {
            key: "pension",
            name_zh: "城乡居民基本养老保险",
            name_en: "urban and rural residents' basic pension insurance",
        },
        Programme {
            key: "medical_insurance",
            name_zh: "城乡居民基本医疗保险",
            name_en: "urban and rural residents' basic medical insurance",
        },
        Programme { key: "disability", name_zh: "残疾人两项补贴", name_en: "the two disability allowances" },
    ],
    entries: &[
        // Reverse-sense first: "逾期发放率" must not be read as a payment rate.
        Entry {
            programme: "minimum_living",
            name: "资金逾期发放率",
            name_en: "share of payments made late",
            matches: &[&["逾期"]],
            level2: "时效指标",
            operator: Operator::Eq,
            value: "0",
            units: PCT,
            sense: Sense::LowerBetter,
            max: at_most("0", Severity::Warning, PAID_IN_FULL_ZH, PAID_IN_FULL_EN),
            source: "DOMAIN §2 defect (逾期发放率 ≥ 100%)",
            ..Entry::BASE
        },
        // 养老 / 医保 / 残疾人 before the generic payment entries of 低保.
        Entry {
            programme: "pension",
            name: "城乡居民基本养老保险参保率",
            name_en: "enrolment rate of residents' basic pension insurance",
            matches: &[&["养老", "参保率"], &["养老", "覆盖率"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "95",
            units: PCT,
            core: true,
            min: at_least(
                "90",
                Severity::Warning,
                "全国基本养老保险参保率目标为95%，县级目标低于90%明显偏低。",
                "the national pension enrolment target is 95%; a county target under 90% is far too low.",
            ),
            source: "“十四五”规划纲要 (基本养老保险参保率 95%)",
            ..Entry::BASE
        },
        Entry {
            programme: "pension",
            name: "养老金按时足额发放率",
            name_en: "share of pensions paid on time and in full",
            matches: &[&["养老金", "发放"], &["养老", "待遇", "发放"]],
            level2: "时效指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least("100", Severity::Warning, PAID_IN_FULL_ZH, PAID_IN_FULL_EN),
            source: "社会保险法",
            ..Entry::BASE
        },
        Entry {
            programme: "pension",
            name: "基础养老金最低标准",
            name_en: "minimum basic pension",
            matches: &[&["基础养老金"]],
            level2: "成本指标",
            value: "143",
            units: &["元/人·月", "元/月", "元"],
            sense: Sense::Exact,
            source: "national minimum basic pension (adjusted yearly)",
            ..Entry::BASE
        },
        Entry {
            programme: "medical_insurance",
            name: "城乡居民基本医疗保险参保率",
            name_en: "enrolment rate of residents' basic medical insurance",
            matches: &[&["医疗保险", "参保率"], &["医保", "参保率"], &["医疗保险", "覆盖率"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "95",
            units: PCT,
            core: true,
            min: at_least(
                "95",
                Severity::Warning,
                "基本医疗保险参保率全国稳定在95%以上。",
                "basic medical insurance enrolment has been stable above 95% nationally.",
            ),
            source: "全国医疗保障事业发展统计公报; “十四五”全民医疗保障规划",
            ..Entry::BASE
        },
        Entry {
            programme: "medical_insurance",
            name: "政策范围内住院费用基金支付比例",
            name_en: "share of in-policy inpatient costs paid by the fund",
            matches: &[&["住院", "支付比例"], &["住院", "报销比例"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "70",
            units: PCT,
            core: true,
            source: "“十四五”全民医疗保障规划 (about 70%)",
            ..Entry::BASE
        },
        Entry {
            programme: "disability",
            name: "残疾人两项补贴覆盖率",
            name_en: "coverage of the two disability allowances",
            matches: &[&["残疾人", "覆盖率"], &["两项补贴", "覆盖"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "困难残疾人生活补贴和重度残疾人护理补贴要求应补尽补。",
                "the two disability allowances must reach everyone eligible.",
            ),
            source: "国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见",
            ..Entry::BASE
        },
        Entry {
            programme: "disability",
            name: "残疾人两项补贴发放人数",
            name_en: "number of people receiving disability allowances",
            matches: &[&["残疾人", "人数"], &["残疾人", "人次"], &["两项补贴", "人"]],
            value: "800",
            units: PEOPLE,
            core: true,
            source: "county forms",
            ..Entry::BASE
        },
        // 临时救助
        Entry {
            programme: "temporary_relief",
            name: "临时救助标准",
            name_en: "temporary relief ceiling per household",
            matches: &[&["临时救助", "标准"]],
            level2: "成本指标",
            operator: Operator::Le,
            value: "5300",
            units: &["元/户·年", "元/户", "元/人·次", "元/次", "元"],
            sense: Sense::Exact,
            source: "DOMAIN §2 example (临时救助标准 ≤ 5300 元/户·年)",
            ..Entry::BASE
        },
        Entry {
            programme: "temporary_relief",
            name: "临时救助人次",
            name_en: "number of temporary relief cases",
            matches: &[&["临时救助", "人"], &["临时救助", "户"], &["临时救助", "次"]],
            value: "500",
            units: PEOPLE,
            core: true,
            source: "county forms",
            ..Entry::BASE
        },
        // 特困
        Entry {
            programme: "extreme_poverty",
            name: "特困人员基本生活标准",
            name_en: "basic living standard for people in extreme poverty",
            matches: &[&["特困", "标准"]],
            level2: "成本指标",
            value: "7000",
            units: &["元/人·年", "元/年", "元/人·月", "元/月", "元"],
            sense: Sense::Exact,
            source: "特困人员救助供养 (not below 1.3 times the local 低保 standard)",
            ..Entry::BASE
        },
        Entry {
            programme: "extreme_poverty",
            name: "特困人员救助供养人数",
            name_en: "number of people in extreme poverty supported",
            matches: &[&["特困", "人"], &["五保", "人"]],
            excludes: &["满意"],
            value: "300",
            units: PEOPLE,
            core: true,
            source: "county forms",
            ..Entry::BASE
        },
        // 低保
        Entry {
            programme: "minimum_living",
            name: "低保对象月人均补助水平",
            name_en: "average monthly allowance per 低保 recipient",
            matches: &[&["低保", "人均"], &["低保", "补助水平"], &["低保", "标准"], &["最低生活保障", "标准"]],
            level2: "成本指标",
            value: "400",
            units: &["元/人·月", "元/月", "元/人·年", "元/年", "元"],
            sense: Sense::Exact,
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "minimum_living",
            name: "农村低保发放人数",
            name_en: "number of rural 低保 recipients",
            matches: &[&["低保", "人数"], &["低保", "人次"], &["低保", "户数"], &["最低生活保障", "人"]],
            value: "21933",
            units: PEOPLE,
            core: true,
            source: "DOMAIN §2 example",
            ..Entry::BASE
        },
        Entry {
            programme: "minimum_living",
            name: "救助资金发放准确率",
            name_en: "accuracy of relief payments",
            matches: &[&["发放", "准确率"], &["足额发放"], &["按时发放"], &["发放", "及时率"], &["资金", "发放率"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least("100", Severity::Warning, PAID_IN_FULL_ZH, PAID_IN_FULL_EN),
            source: "社会救助暂行办法",
            ..Entry::BASE
        },
        // shared
        Entry {
            name: "受助群众满意度",
            name_en: "satisfaction of the people assisted",
            matches: &[&["满意"]],
            level1: Level1::Satisfaction,
            level2: "服务对象满意度指标",
            value: "90",
            units: &["%", "分"],
            source: "county forms",
            ..Entry::BASE
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};

    const NUM: &str = "产出|数量指标|农村低保发放人数|≥|21933|人|10|★";
    const ACC: &str = "产出|质量指标|救助资金发放准确率|=|100|%|10|★";

    #[test]
    fn check_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[NUM, ACC], &[]),
            (&[NUM, ACC, "产出|成本指标|低保对象月人均补助水平|≥|400|元/人·月|10"], &[]),
            (&[NUM], &["social_security.missing_core"]),
            (&[NUM, "产出|质量指标|资金足额发放率|≥|98|%|10|★"], &["social_security.target_too_low"]),
            // the real defect of DOMAIN §2
            (&[NUM, ACC, "产出|时效指标|逾期发放率|≥|100|%|10"], &["social_security.operator_mismatch"]),
            (&[NUM, ACC, "产出|时效指标|逾期发放率|≤|5|%|10"], &["social_security.target_too_high"]),
            (&[NUM, ACC, "产出|时效指标|逾期发放率|=|0|%|10"], &[]),
            (&["产出|成本指标|临时救助标准|≤|5300|元/户·年|10", "产出|数量指标|临时救助人次|≥|500|人次|10|★"], &[]),
            (&["产出|成本指标|临时救助标准|≤|5300|元/户·年|10"], &["social_security.missing_core"]),
            (&["效益|社会效益指标|城乡居民基本养老保险参保率|≥|95|%|10|★", "产出|时效指标|养老金按时足额发放率|=|100|%|10|★"], &[]),
            (&["效益|社会效益指标|城乡居民基本养老保险参保率|≥|85|%|10|★", "产出|时效指标|养老金按时足额发放率|=|100|%|10|★"], &["social_security.target_too_low"]),
            (&["效益|社会效益指标|基本医疗保险参保率|≥|94|%|10|★", "效益|社会效益指标|政策范围内住院费用基金支付比例|≥|70|%|10|★"], &["social_security.target_too_low"]),
            (&["产出|质量指标|残疾人两项补贴覆盖率|=|100|%|10|★", "产出|数量指标|残疾人两项补贴发放人数|≥|800|人|10|★"], &[]),
            (&["产出|数量指标|特困人员救助供养人数|≥|300|人|10|★"], &[]),
            (&["产出|数量指标|公益性岗位开发数|≥|50|个|10"], &["social_security.no_programme_match"]),
        ];
        for (specs, want) in cases {
            let got = crate::sector::check(&LIBRARY, &proj("social_security", 5_000_000, specs));
            assert_eq!(codes(&got), *want, "case {specs:?}");
        }
    }
}
