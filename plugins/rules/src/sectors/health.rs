//! 卫生健康 (health): basic public health services, maternal and child health, family doctors.

use crate::sector::{Entry, Library, Programme, Sense};
use crate::sectors::{at_least, at_most};
use crate::{Level1, Operator, Severity};

const PCT: &[&str] = &["%"];
const BPHS: &str = "国家基本公共卫生服务项目年度工作任务 (national basic public health service annual targets)";

pub static LIBRARY: Library = Library {
    sector: "health",
    aliases: &["卫生健康", "卫生", "医疗卫生", "卫生健康支出"],
    code_prefix: "health",
    name_zh: "卫生健康",
    name_en: "health",
    programmes: &[
        Programme {
            key: "basic_public_health", name_zh: "基本公共卫生服务", name_en: "basic public health services"
        },
        Programme { key: "maternal_child", name_zh: "妇幼健康", name_en: "maternal and child health" },
        Programme { key: "family_doctor", name_zh: "家庭医生签约服务", name_en: "family doctor contracting" },
    ],
    entries: &[
        // 基本公共卫生服务
        Entry {
            programme: "basic_public_health",
            name: "适龄儿童国家免疫规划疫苗接种率",
            name_en: "vaccination rate of the national immunisation programme for eligible children",
            matches: &[&["疫苗", "接种率"], &["免疫规划", "接种"], &["预防接种", "率"]],
            excludes: &["宣传", "知晓"],
            level2: "质量指标",
            value: "90",
            units: PCT,
            core: true,
            min: at_least(
                "90",
                Severity::Error,
                "国家免疫规划要求以乡镇为单位适龄儿童免疫规划疫苗接种率保持在90%以上。",
                "the national immunisation programme requires at least 90% coverage in every township.",
            ),
            source: "DOMAIN §2 example; 国家免疫规划",
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "7岁以下儿童健康管理率",
            name_en: "health management rate of children under 7",
            matches: &[&["儿童", "健康管理率"], &["儿童", "保健", "管理率"]],
            level2: "质量指标",
            value: "85",
            units: PCT,
            core: true,
            min: at_least(
                "85",
                Severity::Warning,
                "基本公共卫生服务年度任务要求儿童健康管理率不低于85%。",
                "the basic public health service targets ask for at least 85%.",
            ),
            source: "DOMAIN §2 example; 国家基本公共卫生服务项目",
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "孕产妇系统管理率",
            name_en: "systematic management rate of pregnant and postpartum women",
            matches: &[&["孕产妇", "管理率"], &["孕产妇", "健康管理"]],
            level2: "质量指标",
            value: "90",
            units: PCT,
            core: true,
            min: at_least(
                "85",
                Severity::Warning,
                "基本公共卫生服务年度任务要求孕产妇系统管理率不低于85%。",
                "the basic public health service targets ask for at least 85%.",
            ),
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "高血压患者规范管理率",
            name_en: "standardised management rate of hypertension patients",
            matches: &[&["高血压", "管理"]],
            level2: "质量指标",
            value: "65",
            units: PCT,
            core: true,
            min: at_least(
                "60",
                Severity::Warning,
                "基本公共卫生服务年度任务要求高血压患者基层规范管理服务率不低于60%。",
                "the basic public health service targets ask for at least 60%.",
            ),
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "2型糖尿病患者规范管理率",
            name_en: "standardised management rate of type-2 diabetes patients",
            matches: &[&["糖尿病", "管理"]],
            level2: "质量指标",
            value: "65",
            units: PCT,
            core: true,
            min: at_least(
                "60",
                Severity::Warning,
                "基本公共卫生服务年度任务要求2型糖尿病患者基层规范管理服务率不低于60%。",
                "the basic public health service targets ask for at least 60%.",
            ),
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "65岁及以上老年人健康管理率",
            name_en: "health management rate of people aged 65 and over",
            matches: &[&["老年人", "健康管理"], &["老年人", "体检率"]],
            level2: "质量指标",
            value: "65",
            units: PCT,
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "严重精神障碍患者规范管理率",
            name_en: "standardised management rate of severe mental disorder patients",
            matches: &[&["精神障碍", "管理率"]],
            level2: "质量指标",
            value: "80",
            units: PCT,
            min: at_least(
                "80",
                Severity::Warning,
                "基本公共卫生服务年度任务要求严重精神障碍患者规范管理率不低于80%。",
                "the basic public health service targets ask for at least 80%.",
            ),
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "肺结核患者管理率",
            name_en: "management rate of tuberculosis patients",
            matches: &[&["结核", "管理率"]],
            level2: "质量指标",
            value: "90",
            units: PCT,
            min: at_least(
                "90",
                Severity::Warning,
                "基本公共卫生服务年度任务要求肺结核患者管理率不低于90%。",
                "the basic public health service targets ask for at least 90%.",
            ),
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "传染病和突发公共卫生事件报告率",
            name_en: "reporting rate of infectious diseases and public health emergencies",
            matches: &[&["传染病", "报告率"], &["突发公共卫生事件", "报告率"]],
            level2: "质量指标",
            value: "95",
            units: PCT,
            source: BPHS,
            ..Entry::BASE
        },
        Entry {
            programme: "basic_public_health",
            name: "居民电子健康档案建档率",
            name_en: "electronic health record coverage of residents",
            matches: &[&["健康档案", "率"]],
            level2: "质量指标",
            value: "90",
            units: PCT,
            source: BPHS,
            ..Entry::BASE
        },
        // 妇幼健康: rates that must be low, per 100,000 or per mille
        Entry {
            programme: "maternal_child",
            name: "孕产妇死亡率",
            name_en: "maternal mortality ratio",
            matches: &[&["孕产妇", "死亡率"]],
            excludes: &["下降", "降低"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Le,
            value: "15",
            units: &["/10万", "1/10万", "人/10万", "/十万"],
            sense: Sense::LowerBetter,
            core: true,
            source: "《健康中国2030》规划纲要 indicators; county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "maternal_child",
            name: "婴儿死亡率",
            name_en: "infant mortality rate",
            matches: &[&["婴儿", "死亡率"]],
            excludes: &["下降", "降低"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Le,
            value: "5",
            units: &["‰", "%"],
            sense: Sense::LowerBetter,
            core: true,
            source: "《健康中国2030》规划纲要 indicators; county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "maternal_child",
            name: "5岁以下儿童死亡率",
            name_en: "under-five mortality rate",
            matches: &[&["5岁以下", "死亡率"], &["五岁以下", "死亡率"]],
            excludes: &["下降", "降低"],
            level1: Level1::Benefit,
            level2: "社会效益指标",
            operator: Operator::Le,
            value: "7",
            units: &["‰", "%"],
            sense: Sense::LowerBetter,
            source: "《健康中国2030》规划纲要 indicators; county forms",
            ..Entry::BASE
        },
        Entry {
            programme: "maternal_child",
            name: "住院分娩率",
            name_en: "hospital delivery rate",
            matches: &[&["住院分娩"]],
            level2: "质量指标",
            value: "99",
            units: PCT,
            min: at_least(
                "95",
                Severity::Warning,
                "全国住院分娩率已稳定在99%以上，低于95%的目标明显偏低。",
                "the national hospital delivery rate has been above 99% for years; a target under 95% is far too low.",
            ),
            source: "中国妇幼健康事业发展报告 (national maternal and child health reports)",
            ..Entry::BASE
        },
        Entry {
            programme: "maternal_child",
            name: "孕产妇产前筛查率",
            name_en: "prenatal screening rate",
            matches: &[&["产前筛查"], &["新生儿", "筛查率"]],
            level2: "质量指标",
            value: "80",
            units: PCT,
            source: "county forms",
            ..Entry::BASE
        },
        // 家庭医生签约服务
        Entry {
            programme: "family_doctor",
            name: "重点人群家庭医生签约服务覆盖率",
            name_en: "family doctor contract coverage of priority groups",
            matches: &[&["家庭医生", "签约"], &["家医", "签约"]],
            excludes: &["满意"],
            level2: "质量指标",
            value: "75",
            units: PCT,
            core: true,
            source: "国家卫生健康委 家庭医生签约服务 annual targets",
            ..Entry::BASE
        },
        Entry {
            programme: "family_doctor",
            name: "签约居民续约率",
            name_en: "contract renewal rate",
            matches: &[&["续约率"]],
            level1: Level1::Benefit,
            level2: "可持续影响指标",
            value: "80",
            units: PCT,
            source: "county forms",
            ..Entry::BASE
        },
        // shared by all programmes
        Entry {
            name: "服务对象满意度",
            name_en: "satisfaction of the people served",
            matches: &[&["满意"]],
            level1: Level1::Satisfaction,
            level2: "服务对象满意度指标",
            value: "90",
            units: &["%", "分"],
            source: "county forms",
            ..Entry::BASE
        },
        Entry {
            name: "医疗安全事故发生次数",
            name_en: "number of medical safety incidents",
            matches: &[&["事故", "次数"], &["事故", "起数"], &["事故", "发生率"]],
            excludes: &["下降", "降低", "减少", "整改", "处理"],
            level2: "质量指标",
            operator: Operator::Eq,
            value: "0",
            units: &["次", "起", "件", "%"],
            sense: Sense::LowerBetter,
            max: at_most(
                "0",
                Severity::Warning,
                "医疗安全事故目标应为零。",
                "the target for medical safety incidents must be zero.",
            ),
            source: "county forms",
            ..Entry::BASE
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{codes, proj};

    const VAC: &str = "产出|质量指标|适龄儿童免疫规划疫苗接种率|≥|90|%|10|★";
    const CHILD: &str = "产出|质量指标|7岁以下儿童健康管理率|≥|85|%|10|★";
    const MAT: &str = "产出|质量指标|孕产妇系统管理率|≥|90|%|10|★";
    const HBP: &str = "产出|质量指标|高血压患者规范管理率|≥|65|%|10|★";
    const DM: &str = "产出|质量指标|2型糖尿病患者规范管理率|≥|65|%|10|★";

    #[test]
    fn check_table() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &[&str])] = &[
            (&[VAC, CHILD, MAT, HBP, DM], &[]),
            (&[VAC, CHILD, MAT, HBP, DM, "满意度|服务对象满意度指标|群众满意度|≥|90|%|10"], &[]),
            (&["产出|质量指标|适龄儿童免疫规划疫苗接种率|≥|85|%|10|★", CHILD, MAT, HBP, DM], &["health.target_too_low"]),
            (&["产出|质量指标|适龄儿童免疫规划疫苗接种率|≥|89.9|%|10|★", CHILD, MAT, HBP, DM], &["health.target_too_low"]),
            (&["产出|质量指标|免疫规划疫苗接种率|≥|95|%|10|★", CHILD, MAT, HBP, DM], &[]),
            (&[VAC, "产出|质量指标|0-6岁儿童健康管理率|≥|80|%|10|★", MAT, HBP, DM], &["health.target_too_low"]),
            (&[VAC, CHILD, MAT, "产出|质量指标|高血压患者规范管理率|≥|50|%|10|★", DM], &["health.target_too_low"]),
            (&[VAC, CHILD, MAT, HBP, DM, "产出|质量指标|严重精神障碍患者规范管理率|≥|70|%|10"], &["health.target_too_low"]),
            (&[VAC, CHILD, HBP, DM], &["health.missing_core"]),
            (&[VAC], &["health.missing_core", "health.missing_core", "health.missing_core", "health.missing_core"]),
            (&[VAC, CHILD, MAT, HBP, "产出|质量指标|2型糖尿病患者规范管理率|≥|65|人|10|★"], &["health.unit_mismatch"]),
            (&[VAC, CHILD, MAT, HBP, "产出|质量指标|2型糖尿病患者规范管理率|≥|65|%|10"], &["health.not_marked_core"]),
            (&["效益|社会效益指标|孕产妇死亡率|≤|15|/10万|10|★", "效益|社会效益指标|婴儿死亡率|≤|5|‰|10|★"], &[]),
            (&["效益|社会效益指标|孕产妇死亡率|≥|15|/10万|10|★", "效益|社会效益指标|婴儿死亡率|≤|5|‰|10|★"], &["health.operator_mismatch"]),
            (&["效益|社会效益指标|婴儿死亡率|≤|5|‰|10|★"], &["health.missing_core"]),
            (&["产出|质量指标|住院分娩率|≥|90|%|10", "效益|社会效益指标|孕产妇死亡率|≤|15|/10万|10|★", "效益|社会效益指标|婴儿死亡率|≤|5|‰|10|★"], &["health.target_too_low"]),
            (&["产出|质量指标|重点人群家庭医生签约服务覆盖率|≥|75|%|10|★"], &[]),
            (&["产出|质量指标|医疗安全事故发生次数|≤|1|次|10"], &["health.target_too_high", "health.no_programme_match"]),
            (&["产出|数量指标|新建卫生院面积|≥|2000|平方米|10"], &["health.no_programme_match"]),
        ];
        for (specs, want) in cases {
            let got = crate::sector::check(&LIBRARY, &proj("health", 5_000_000, specs));
            assert_eq!(codes(&got), *want, "case {specs:?}");
        }
    }
}
