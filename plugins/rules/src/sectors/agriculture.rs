//! 农业农村 (agriculture): high-standard farmland, farmland protection subsidies, animal
//! epidemic prevention, crop pest control.

use crate::sector::{Entry, Library, Programme, Sense};
use crate::sectors::{at_least, at_most};
use crate::{Level1, Operator, Severity};

const PCT: &[&str] = &["%"];
const AREA: &[&str] = &["亩", "万亩", "公顷", "hm2", "hm²"];

pub static LIBRARY: Library = Library {
    sector: "agriculture",
    aliases: &["农业", "农业农村", "农林水", "农林水支出"],
    code_prefix: "agriculture",
    name_zh: "农业农村",
    name_en: "agriculture",
    programmes: &[
        Programme { key: "farmland", name_zh: "高标准农田建设", name_en: "high-standard farmland construction" },
        Programme {
            key: "farmland_subsidy",
            name_zh: "耕地地力保护补贴",
            name_en: "farmland fertility protection subsidy",
        },
        Programme { key: "animal_disease", name_zh: "动物疫病防控", name_en: "animal epidemic prevention" },
        Programme {
            key: "pest_control", name_zh: "农作物病虫害防治", name_en: "crop pest and disease control"
        },
    ],
    entries: &[
        // 高标准农田
        Entry {
            programme: "farmland",
            name: "新建高标准农田面积",
            name_en: "area of high-standard farmland built",
            matches: &[&["高标准农田", "面积"], &["高标准农田", "建设"], &["高标准农田", "亩"]],
            excludes: &["补助", "验收", "满意"],
            value: "10000",
            units: AREA,
            core: true,
            source: "全国高标准农田建设规划 (national high-standard farmland plan)",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland",
            name: "新增改善灌溉达标面积",
            name_en: "area with new or improved irrigation up to standard",
            matches: &[&["灌溉", "面积"], &["节水灌溉"]],
            value: "500",
            units: AREA,
            source: "DOMAIN §2 example",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland",
            name: "财政资金补助",
            name_en: "fiscal subsidy per mu",
            matches: &[&["财政资金补助"], &["亩均", "补助"], &["亩均", "投入"], &["每亩", "补助"]],
            level2: "成本指标",
            operator: Operator::Eq,
            value: "1600",
            units: &["元/亩"],
            sense: Sense::Exact,
            source: "DOMAIN §2 example",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland",
            name: "项目工程验收合格率",
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
                "高标准农田项目须全部通过竣工验收后方可上图入库、交付使用。",
                "every part of a farmland project must pass acceptance before it is registered and handed over.",
            ),
            source: "高标准农田建设 通则 GB/T 30600; 高标准农田建设评价激励 rules",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland",
            name: "亩均粮食产能提升",
            name_en: "grain capacity gain per mu",
            matches: &[&["粮食", "产能"], &["亩均", "增产"], &["粮食", "增产"]],
            level1: Level1::Benefit,
            level2: "经济效益指标",
            value: "50",
            units: &["公斤/亩", "kg/亩", "斤/亩", "千克/亩"],
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland",
            name: "工程设计使用年限",
            name_en: "design service life of the works",
            matches: &[&["使用年限"]],
            level1: Level1::Benefit,
            level2: "可持续影响指标",
            value: "15",
            units: &["年"],
            min: at_least(
                "10",
                Severity::Warning,
                "高标准农田工程的设计使用年限一般不低于15年，低于10年的目标明显偏低。",
                "farmland works are usually designed for at least 15 years; under 10 years is far too low.",
            ),
            source: "高标准农田建设 通则 GB/T 30600",
            ..Entry::BASE
        },
        // 耕地地力保护补贴
        Entry {
            programme: "farmland_subsidy",
            name: "耕地地力保护补贴面积",
            name_en: "area covered by the farmland fertility protection subsidy",
            matches: &[&["地力", "面积"], &["补贴", "面积"]],
            value: "100000",
            units: AREA,
            core: true,
            source: "耕地地力保护补贴 (national policy since 2016)",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland_subsidy",
            name: "补贴资金发放准确率",
            name_en: "accuracy of subsidy payments",
            matches: &[&["补贴", "准确率"], &["发放", "准确率"], &["补贴", "足额"]],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            core: true,
            min: at_least(
                "100",
                Severity::Warning,
                "补贴资金须按核定面积准确、足额发放到户。",
                "subsidies must reach each household accurately and in full, by the verified area.",
            ),
            source: "耕地地力保护补贴资金管理",
            ..Entry::BASE
        },
        Entry {
            programme: "farmland_subsidy",
            name: "补贴资金按时发放率",
            name_en: "share of subsidies paid on time",
            matches: &[&["补贴", "按时"], &["补贴", "及时"]],
            level2: "时效指标",
            operator: Operator::Eq,
            value: "100",
            units: PCT,
            source: "county forms",
            ..Entry::BASE
        },
        // 动物疫病防控
        Entry {
            programme: "animal_disease",
            name: "强制免疫病种畜禽免疫密度",
            name_en: "immunisation density of livestock for compulsory-vaccination diseases",
            matches: &[&["免疫密度"], &["强制免疫", "率"], &["应免", "率"], &["畜禽", "免疫率"]],
            level2: "质量指标",
            value: "90",
            units: PCT,
            core: true,
            min: at_least(
                "90",
                Severity::Error,
                "国家动物疫病强制免疫计划要求应免畜禽群体免疫密度常年保持在90%以上。",
                "the national compulsory animal vaccination plan requires at least 90% density all year.",
            ),
            source: "国家动物疫病强制免疫指导意见",
            ..Entry::BASE
        },
        Entry {
            programme: "animal_disease",
            name: "免疫抗体合格率",
            name_en: "pass rate of immunisation antibody tests",
            matches: &[&["抗体", "合格率"]],
            level2: "质量指标",
            value: "70",
            units: PCT,
            core: true,
            min: at_least(
                "70",
                Severity::Warning,
                "国家强制免疫计划要求免疫抗体合格率常年保持在70%以上。",
                "the national compulsory vaccination plan requires antibody pass rates of at least 70%.",
            ),
            source: "国家动物疫病强制免疫指导意见",
            ..Entry::BASE
        },
        Entry {
            programme: "animal_disease",
            name: "区域性重大动物疫情发生次数",
            name_en: "number of regional major animal epidemics",
            matches: &[&["动物疫情", "次"], &["动物疫情", "起"], &["重大动物疫病", "发生"]],
            excludes: &["处置", "报告"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Eq,
            value: "0",
            units: &["次", "起"],
            sense: Sense::LowerBetter,
            max: at_most(
                "0",
                Severity::Warning,
                "防控目标应为不发生区域性重大动物疫情。",
                "the aim is that no regional major epidemic occurs.",
            ),
            source: "county forms",
            ..Entry::BASE
        },
        // 病虫害防治
        Entry {
            programme: "pest_control",
            name: "主要农作物病虫害统防统治覆盖率",
            name_en: "coverage of unified pest control on main crops",
            matches: &[&["统防统治"]],
            level2: "质量指标",
            value: "45",
            units: PCT,
            core: true,
            source: "农作物病虫害防治条例; national pest control plans",
            ..Entry::BASE
        },
        Entry {
            programme: "pest_control",
            name: "绿色防控覆盖率",
            name_en: "coverage of green pest control",
            matches: &[&["绿色防控"]],
            level2: "质量指标",
            value: "55",
            units: PCT,
            source: "national pest control plans",
            ..Entry::BASE
        },
        Entry {
            programme: "pest_control",
            name: "重大病虫害危害损失率",
            name_en: "crop loss rate from major pests and diseases",
            matches: &[&["损失率"]],
            excludes: &["挽回", "降低", "下降"],
            level1: Level1::Benefit,
            level2: "经济效益指标",
            operator: Operator::Le,
            value: "5",
            units: PCT,
            sense: Sense::LowerBetter,
            core: true,
            max: at_most(
                "5",
                Severity::Warning,
                "全国要求重大病虫害总体危害损失率控制在5%以内。",
                "the national aim keeps overall losses from major pests within 5%.",
            ),
            source: "national crop pest control targets",
            ..Entry::BASE
        },
        // shared
        Entry {
            name: "受益群众满意度",
            name_en: "satisfaction of the farmers who benefit",
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

    const AREA_OK: &str = "产出|数量指标|新建高标准农田面积|≥|10000|亩|10|★";
    const ACC: &str = "产出|质量指标|项目工程验收合格率|=|100|%|10|★";

    #[test]
    fn check_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[AREA_OK, ACC], &[]),
            (&[AREA_OK, ACC, "产出|数量指标|新增改善灌溉达标面积|≥|500|亩|10", "产出|成本指标|财政资金补助|=|1600|元/亩|10"], &[]),
            (&[AREA_OK, ACC, "产出|成本指标|财政资金补助|=|1600|元|10"], &["agriculture.unit_mismatch"]),
            (&[AREA_OK], &["agriculture.missing_core"]),
            (&[AREA_OK, "产出|质量指标|工程验收合格率|≥|90|%|10|★"], &["agriculture.target_too_low"]),
            (&[AREA_OK, ACC, "效益|可持续影响指标|工程设计使用年限|≥|5|年|10"], &["agriculture.target_too_low"]),
            (&["产出|质量指标|畜禽强制免疫病种免疫密度|≥|90|%|10|★", "产出|质量指标|免疫抗体合格率|≥|70|%|10|★"], &[]),
            (&["产出|质量指标|应免畜禽免疫密度|≥|85|%|10|★", "产出|质量指标|免疫抗体合格率|≥|70|%|10|★"], &["agriculture.target_too_low"]),
            (&["产出|质量指标|畜禽强制免疫病种免疫密度|≥|90|%|10|★"], &["agriculture.missing_core"]),
            (&["产出|质量指标|主要农作物病虫害统防统治覆盖率|≥|45|%|10|★", "效益|经济效益指标|重大病虫害危害损失率|≤|5|%|10|★"], &[]),
            (&["产出|质量指标|主要农作物病虫害统防统治覆盖率|≥|45|%|10|★", "效益|经济效益指标|病虫害损失率|≤|8|%|10|★"], &["agriculture.target_too_high"]),
            (&["产出|质量指标|主要农作物病虫害统防统治覆盖率|≥|45|%|10|★", "效益|经济效益指标|病虫害损失率|≥|5|%|10|★"], &["agriculture.operator_mismatch"]),
            (&["产出|数量指标|耕地地力保护补贴面积|≥|100000|亩|10|★", "产出|质量指标|补贴资金发放准确率|=|100|%|10|★"], &[]),
            (&["产出|数量指标|农机购置补贴台数|≥|50|台|10"], &["agriculture.no_programme_match"]),
        ];
        for (specs, want) in cases {
            let got = crate::sector::check(&LIBRARY, &proj("agriculture", 5_000_000, specs));
            assert_eq!(codes(&got), *want, "case {specs:?}");
        }
    }
}
