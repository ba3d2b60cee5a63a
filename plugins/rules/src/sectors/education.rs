//! 教育 (education): student financial aid, compulsory education, preschool education, the
//! rural student nutrition programme, school buildings.

use crate::sector::{Entry, Library, Programme, Sense};
use crate::sectors::{at_least, at_most};
use crate::{Level1, Operator, Severity};

const PCT: &[&str] = &["%"];
const PEOPLE: &[&str] = &["人", "人次", "名"];

pub static LIBRARY: Library = Library {
    sector: "education",
    aliases: &["教育", "教育支出"],
    code_prefix: "education",
    name_zh: "教育",
    name_en: "education",
    programmes: &[
        Programme { key: "student_aid", name_zh: "学生资助", name_en: "student financial aid" },
        Programme { key: "compulsory", name_zh: "义务教育经费保障", name_en: "compulsory education funding" },
        Programme { key: "preschool", name_zh: "学前教育", name_en: "preschool education" },
        Programme { key: "nutrition", name_zh: "农村义务教育学生营养改善计划", name_en: "rural student nutrition improvement programme" },
        Programme { key: "school_building", name_zh: "校舍建设与改造", name_en: "school building and renovation" },
    ],
    entries: &[
        // 学生资助
        Entry {
            programme: "student_aid",
            name: "家庭经济困难学生资助覆盖率",
            name_en: "aid coverage of students from families with financial difficulties",
            matches: &[&["困难学生", "覆盖率"], &["应助尽助"], &["困难学生", "资助率"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "学生资助政策要求应助尽助，覆盖率目标低于100%意味着计划遗漏符合条件的学生。",
                "student aid policy requires every eligible student to be covered; a lower target plans to leave eligible students out.",
            ),
            source: "学生资助政策体系 (应助尽助)",
            ..Entry::BASE
        },
        Entry {
            programme: "student_aid",
            name: "学生受资助人数",
            name_en: "number of students receiving aid",
            matches: &[&["受资助", "人"], &["资助", "人数"], &["资助", "人次"], &["资助学生", "数"]],
            value: "735",
            units: &["人次", "人", "名"],
            core: true,
            source: "DOMAIN §2 example",
            ..Entry::BASE
        },
        Entry {
            programme: "student_aid",
            name: "学生资助覆盖率",
            name_en: "share of students receiving aid",
            matches: &[&["资助", "覆盖率"]],
            level2: "质量指标",
            value: "30",
            units: PCT,
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "student_aid",
            name: "资助资金按时足额发放率",
            name_en: "share of aid paid on time and in full",
            matches: &[&["资助", "发放"], &["助学金", "发放"]],
            level2: "时效指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            min: at_least(
                "95",
                Severity::Warning,
                "资助资金应按学期及时足额发放到学生，目标不应低于95%。",
                "aid must reach students each term in full; the target should not be below 95%.",
            ),
            source: "学生资助资金管理办法",
            ..Entry::BASE
        },
        // 义务教育
        Entry {
            programme: "compulsory",
            name: "九年义务教育巩固率",
            name_en: "nine-year compulsory education retention rate",
            matches: &[&["巩固率"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "96",
            units: PCT,
            core: true,
            min: at_least(
                "95",
                Severity::Warning,
                "全国九年义务教育巩固率已超过95%，县级目标不宜低于95%。",
                "the national retention rate is above 95%; a county target should not be lower.",
            ),
            source: "全国教育事业发展统计公报 (national education statistics bulletins)",
            ..Entry::BASE
        },
        Entry {
            programme: "compulsory",
            name: "义务教育阶段适龄儿童入学率",
            name_en: "enrolment rate of school-age children",
            matches: &[&["入学率"]],
            excludes: &["高中", "高等"],
            level2: "质量指标",
            value: "99",
            units: PCT,
            core: true,
            min: at_least(
                "99",
                Severity::Warning,
                "小学学龄儿童净入学率长期保持在99.9%以上，目标不宜低于99%。",
                "primary net enrolment has stayed above 99.9%; the target should not be below 99%.",
            ),
            source: "全国教育事业发展统计公报",
            ..Entry::BASE
        },
        Entry {
            programme: "compulsory",
            name: "义务教育辍学率",
            name_en: "dropout rate in compulsory education",
            matches: &[&["辍学率"], &["辍学", "人数"]],
            excludes: &["劝返", "复学", "控辍"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Le,
            value: "0.5",
            units: &["%", "人"],
            sense: Sense::LowerBetter,
            source: "控辍保学 (dropout control) policy; county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "compulsory",
            name: "生均公用经费拨付标准",
            name_en: "per-pupil public funding standard",
            matches: &[&["生均", "公用经费"], &["公用经费", "标准"]],
            level2: "成本指标",
            operator: Operator::Eq,
            value: "720",
            units: &["元/生·年", "元/人·年", "元/生", "元/人"],
            sense: Sense::Exact,
            source: "county forms (城乡义务教育经费保障机制; the benchmark is revised from time to time)",
            ..Entry::BASE
        },
        // 学前教育
        Entry {
            programme: "preschool",
            name: "学前三年毛入园率",
            name_en: "gross three-year preschool enrolment rate",
            matches: &[&["入园率"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "90",
            units: PCT,
            core: true,
            min: at_least(
                "85",
                Severity::Warning,
                "全国学前三年毛入园率已超过90%，目标低于85%明显偏低。",
                "the national gross preschool enrolment is above 90%; a target under 85% is far too low.",
            ),
            source: "全国教育事业发展统计公报; “十四五”学前教育发展提升行动计划",
            ..Entry::BASE
        },
        Entry {
            programme: "preschool",
            name: "普惠性幼儿园覆盖率",
            name_en: "coverage of affordable (普惠性) kindergartens",
            matches: &[&["普惠", "覆盖率"], &["普惠", "占比"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "85",
            units: PCT,
            source: "“十四五”学前教育发展提升行动计划",
            ..Entry::BASE
        },
        // 营养改善计划
        Entry {
            programme: "nutrition",
            name: "营养改善计划受益学生人数",
            name_en: "number of students benefiting from the nutrition programme",
            matches: &[&["营养", "学生", "人"], &["营养", "受益", "人"]],
            excludes: &["满意"],
            value: "1200",
            units: PEOPLE,
            core: true,
            source: "农村义务教育学生营养改善计划",
            ..Entry::BASE
        },
        Entry {
            programme: "nutrition",
            name: "营养膳食补助标准",
            name_en: "nutrition meal subsidy per student per school day",
            matches: &[&["膳食补助"], &["营养", "补助标准"]],
            level2: "成本指标",
            operator: Operator::Eq,
            value: "5",
            units: &["元/生·天", "元/人·天", "元/生·日", "元/人·日", "元/天"],
            sense: Sense::Exact,
            core: true,
            min: at_least(
                "5",
                Severity::Warning,
                "国家标准自2021年秋季学期起为每生每天5元。",
                "the national standard has been 5 yuan per student per school day since autumn 2021.",
            ),
            source: "农村义务教育学生营养改善计划 (2021 standard)",
            ..Entry::BASE
        },
        Entry {
            programme: "nutrition",
            name: "食品安全事故发生次数",
            name_en: "number of food safety incidents",
            matches: &[&["食品安全", "事故"], &["食物中毒"]],
            excludes: &["下降", "减少"],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "0",
            units: &["次", "起", "件"],
            sense: Sense::LowerBetter,
            max: at_most("0", Severity::Warning, "学校食品安全事故的目标只能为零。", "the only acceptable target for school food safety incidents is zero."),
            source: "county forms",
            ..Entry::BASE
        },
        // 校舍建设
        Entry {
            programme: "school_building",
            name: "新建（改扩建）校舍面积",
            name_en: "floor area of school buildings built or renovated",
            matches: &[&["校舍", "面积"], &["教学楼", "面积"], &["宿舍", "面积"]],
            value: "3000",
            units: &["平方米", "㎡", "m2", "m²"],
            core: true,
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "school_building",
            name: "工程验收合格率",
            name_en: "acceptance pass rate of the works",
            matches: &[&["验收", "合格率"], &["工程", "合格率"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "校舍工程必须全部通过竣工验收方可交付使用。",
                "school buildings may only be used once every part of the works has passed acceptance.",
            ),
            source: "建设工程质量管理条例 (completion acceptance)",
            ..Entry::BASE
        },
        Entry {
            programme: "school_building",
            name: "校舍安全隐患整改率",
            name_en: "share of school building hazards remedied",
            matches: &[&["隐患", "整改"], &["危房", "改造"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            source: "中小学校舍安全保障长效机制",
            ..Entry::BASE
        },
        // shared
        Entry {
            name: "学生（家长）满意度",
            name_en: "satisfaction of students or parents",
            matches: &[&["满意"]],
            level1: Level1::Satisfaction,
            level2: "服务对象满意度指标",
            value: "95",
            units: &["%", "分"],
            source: "DOMAIN §2 example (学生满意度 ≥ 95%)",
            ..Entry::BASE
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};

    const COV: &str = "产出|质量指标|家庭经济困难学生资助覆盖率|=|100|%|10|★";
    const NUM: &str = "产出|数量指标|学生受资助人数|≥|735|人次|10|★";

    #[test]
    fn check_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[COV, NUM], &[]),
            (&[COV, NUM, "满意度|服务对象满意度指标|学生满意度|≥|95|%|10"], &[]),
            (&[NUM], &["education.missing_core"]),
            (&["产出|质量指标|家庭经济困难学生资助覆盖率|≥|90|%|10|★", NUM], &["education.target_too_low"]),
            (&[COV, "产出|数量指标|学生受资助人数|≥|735|%|10|★"], &["education.unit_mismatch"]),
            (&[COV, NUM, "产出|时效指标|助学金发放及时率|≥|90|%|10"], &["education.target_too_low"]),
            (&["效益|社会效益指标|九年义务教育巩固率|≥|96|%|10|★", "产出|质量指标|适龄儿童入学率|≥|99.5|%|10|★"], &[]),
            (&["效益|社会效益指标|义务教育巩固率|≥|93|%|10|★", "产出|质量指标|适龄儿童入学率|≥|99.5|%|10|★"], &["education.target_too_low"]),
            (&["效益|社会效益指标|九年义务教育巩固率|≥|96|%|10|★"], &["education.missing_core"]),
            (&["效益|社会效益指标|九年义务教育巩固率|≥|96|%|10|★", "产出|质量指标|适龄儿童入学率|≥|99.5|%|10|★", "效益|社会效益指标|初中辍学率|≥|1|%|10"], &["education.operator_mismatch"]),
            (&["效益|社会效益指标|九年义务教育巩固率|≥|96|%|10|★", "产出|质量指标|适龄儿童入学率|≥|99.5|%|10|★", "效益|社会效益指标|辍学学生劝返率|=|100|%|10"], &[]),
            (&["效益|社会效益指标|学前三年毛入园率|≥|80|%|10|★"], &["education.target_too_low"]),
            (&["产出|数量指标|营养改善计划受益学生人数|≥|1200|人|10|★", "产出|成本指标|营养膳食补助标准|=|4|元/生·天|10|★"], &["education.target_too_low"]),
            (&["产出|数量指标|营养改善计划受益学生人数|≥|1200|人|10|★", "产出|成本指标|营养膳食补助标准|=|5|元/生·天|10|★", "产出|质量指标|食品安全事故发生次数|≤|1|次|10"], &["education.target_too_high"]),
            (&["产出|数量指标|新建校舍面积|≥|3000|平方米|10|★", "产出|质量指标|工程验收合格率|≥|95|%|10|★"], &["education.target_too_low"]),
            (&["产出|数量指标|教师培训人次|≥|300|人次|10"], &["education.no_programme_match"]),
        ];
        for (specs, want) in cases {
            let got = crate::sector::check(&LIBRARY, &proj("education", 5_000_000, specs));
            assert_eq!(codes(&got), *want, "case {specs:?}");
        }
    }
}
