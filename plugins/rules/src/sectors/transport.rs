//! 交通运输 (transport): rural road construction and maintenance, road safety works, rural
//! passenger transport.

use crate::sector::{Entry, Library, Programme, Sense};
use crate::sectors::{at_least, at_most};
use crate::{Level1, Operator, Severity};

const PCT: &[&str] = &["%"];
const LENGTH: &[&str] = &["km", "公里", "千米", "m", "米"];

pub static LIBRARY: Library = Library {
    sector: "transport",
    aliases: &["交通", "交通运输", "交通运输支出"],
    code_prefix: "transport",
    name_zh: "交通运输",
    name_en: "transport",
    programmes: &[
        Programme { key: "rural_road", name_zh: "农村公路建设", name_en: "rural road construction" },
        Programme { key: "road_maintenance", name_zh: "农村公路养护", name_en: "rural road maintenance" },
        Programme {
            key: "road_safety", name_zh: "公路安全生命防护工程", name_en: "road safety protection works"
        },
        Programme { key: "rural_transit", name_zh: "城乡客运", name_en: "urban-rural passenger transport" },
    ],
    entries: &[
        // 客运 accidents before the general traffic-accident entry.
        Entry {
            programme: "rural_transit",
            name: "客运安全责任事故次数",
            name_en: "number of passenger transport safety accidents",
            matches: &[&["客运", "事故"]],
            excludes: &["下降", "减少"],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "0",
            units: &["次", "起"],
            sense: Sense::LowerBetter,
            max: at_most(
                "0",
                Severity::Warning,
                "客运安全责任事故的目标只能为零。",
                "the only acceptable target for liable passenger accidents is zero.",
            ),
            source: "county forms",
            ..Entry::BASE
        },
        // 养护 first: "养护里程" must not be read as construction mileage.
        Entry {
            programme: "road_maintenance",
            name: "农村公路养护里程",
            name_en: "length of rural roads maintained",
            matches: &[&["养护", "里程"], &["养护", "公里"]],
            value: "200",
            units: LENGTH,
            core: true,
            source: "农村公路养护管理办法",
            ..Entry::BASE
        },
        Entry {
            programme: "road_maintenance",
            name: "农村公路列养率",
            name_en: "share of rural roads under a maintenance plan (列养率)",
            matches: &[&["列养率"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "“四好农村路”要求农村公路应养尽养，列养率达到100%。",
                "the 'four good rural roads' policy requires every rural road to be under maintenance (100%).",
            ),
            source: "交通运输部 “四好农村路” 建设",
            ..Entry::BASE
        },
        Entry {
            programme: "road_maintenance",
            name: "农村公路优良中等路率",
            name_en: "share of rural roads in good or fair condition",
            matches: &[&["优良中等路"], &["优良路率"], &["路况", "优良"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "85",
            units: PCT,
            source: "交通运输部 “四好农村路” targets",
            ..Entry::BASE
        },
        // 安全生命防护工程
        Entry {
            programme: "road_safety",
            name: "安全生命防护工程实施里程",
            name_en: "length of road safety protection works",
            matches: &[&["生命防护"], &["安防工程", "里程"], &["安保", "里程"]],
            excludes: &["满意"],
            value: "30",
            units: LENGTH,
            core: true,
            source: "公路安全生命防护工程实施方案",
            ..Entry::BASE
        },
        Entry {
            programme: "road_safety",
            name: "道路交通事故发生次数",
            name_en: "number of road traffic accidents",
            matches: &[&["交通事故"], &["事故", "起数"], &["事故", "次数"]],
            excludes: &["下降", "降低", "减少", "处理", "处置"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Le,
            value: "2",
            units: &["次", "起", "%"],
            sense: Sense::LowerBetter,
            source: "county forms",
            ..Entry::BASE
        },
        // 农村公路建设 (after 养护 and 安防, whose names also carry 里程)
        Entry {
            programme: "rural_road",
            name: "新改建农村公路里程",
            name_en: "length of rural roads built or rebuilt",
            matches: &[
                &["公路", "里程"],
                &["道路", "里程"],
                &["道路硬化"],
                &["路面", "硬化"],
                &["新改建"],
                &["新建", "道路"],
            ],
            value: "0.565",
            units: LENGTH,
            core: true,
            source: "DOMAIN §2 example (道路硬化 ≥ 0.565 km)",
            ..Entry::BASE
        },
        Entry {
            programme: "rural_road",
            name: "工程交工验收合格率",
            name_en: "acceptance pass rate of the works",
            matches: &[&["验收", "合格率"], &["工程", "合格率"], &["工程质量", "合格"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "公路工程须交工验收合格后方可通车。",
                "a road may only open to traffic once the works have passed acceptance.",
            ),
            source: "公路工程竣(交)工验收办法",
            ..Entry::BASE
        },
        Entry {
            programme: "rural_road",
            name: "工程按期完工率",
            name_en: "share of works finished on schedule",
            matches: &[&["按期", "完工"], &["按时", "完工"], &["按期", "竣工"]],
            level2: "时效指标",
            value: "95",
            units: PCT,
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "rural_road",
            name: "受益人口",
            name_en: "population served",
            matches: &[&["受益", "人口"], &["受益", "群众", "人"]],
            excludes: &["满意"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            value: "3000",
            units: &["人", "万人"],
            source: "county forms",
            ..Entry::BASE
        },
        // 城乡客运
        Entry {
            programme: "rural_transit",
            name: "具备条件的建制村通客车率",
            name_en: "share of eligible administrative villages with bus service",
            matches: &[&["通客车"], &["通公交"]],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "具备条件的建制村已于2020年全部通客车，目标应保持100%。",
                "every eligible administrative village has had bus service since 2020; the target must stay 100%.",
            ),
            source: "交通运输部 建制村通客车 (achieved 2020)",
            ..Entry::BASE
        },
        Entry {
            programme: "rural_transit",
            name: "农村客运班线数",
            name_en: "number of rural bus routes",
            matches: &[&["客运", "线"], &["公交", "线路"]],
            value: "10",
            units: &["条"],
            core: true,
            source: "county forms",
            ..Entry::BASE
        },
        // shared
        Entry {
            name: "受益人口满意度",
            name_en: "satisfaction of the population served",
            matches: &[&["满意"]],
            level1: Level1::Satisfaction,
            level2: "服务对象满意度指标",
            value: "96",
            units: &["%", "分"],
            source: "DOMAIN §2 example (受益人口满意度 ≥ 96%)",
            ..Entry::BASE
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};

    const ROAD: &str = "产出|数量指标|道路硬化|≥|0.565|km|10|★";
    const ACC: &str = "产出|质量指标|工程交工验收合格率|=|100|%|10|★";

    #[test]
    fn check_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[ROAD, ACC], &[]),
            (&[ROAD, ACC, "满意度|服务对象满意度指标|受益人口满意度|≥|96|%|10"], &[]),
            (&[ROAD, ACC, "产出|时效指标|工程按期完工率|≥|95|%|10"], &[]),
            (&[ROAD], &["transport.missing_core"]),
            (&["产出|数量指标|道路硬化|≥|565|米|10|★", ACC], &[]),
            (&["产出|数量指标|道路硬化|≥|0.565|平方米|10|★", ACC], &["transport.unit_mismatch"]),
            (&[ROAD, "产出|质量指标|工程质量合格率|≥|95|%|10|★"], &["transport.target_too_low"]),
            (&["产出|数量指标|农村公路养护里程|≥|200|公里|10|★", "产出|质量指标|列养率|=|100|%|10|★"], &[]),
            (&["产出|数量指标|农村公路养护里程|≥|200|公里|10|★", "产出|质量指标|列养率|≥|90|%|10|★"], &["transport.target_too_low"]),
            (&["产出|数量指标|农村公路养护里程|≥|200|公里|10|★"], &["transport.missing_core"]),
            (&["产出|数量指标|安全生命防护工程实施里程|≥|30|公里|10|★", "效益|社会效益指标|道路交通事故发生次数|≥|1|次|10"], &["transport.operator_mismatch"]),
            (&["效益|社会效益指标|建制村通客车率|=|100|%|10|★", "产出|数量指标|农村客运班线数|≥|10|条|10|★"], &[]),
            (&["效益|社会效益指标|建制村通客车率|≥|95|%|10|★", "产出|数量指标|农村客运班线数|≥|10|条|10|★"], &["transport.target_too_low"]),
            (&["产出|数量指标|购置执法车辆|≥|2|辆|10"], &["transport.no_programme_match"]),
        ];
        for (specs, want) in cases {
            let got = crate::sector::check(&LIBRARY, &proj("transport", 5_000_000, specs));
            assert_eq!(codes(&got), *want, "case {specs:?}");
        }
    }
}
