//! Spreadsheets: a county's project file imported all or nothing, every problem at its row and
//! column, the same file again changing nothing, and exports that import back unchanged.

use std::io::Read;

use reqwest::StatusCode;
use rust_xlsxwriter::Workbook;
use serde_json::{Value, json};

use crate::helpers::*;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const HEADERS: [&str; 16] = [
    "项目编码",
    "项目名称",
    "预算单位",
    "行业",
    "预算金额（元）",
    "预算年度",
    "是否新增",
    "资金来源",
    "一级指标",
    "二级指标",
    "三级指标",
    "指标性质",
    "指标值",
    "度量单位",
    "分值",
    "取值依据",
];

/// A cell as a budget system writes it: a number or a text.
#[derive(Clone)]
enum C {
    N(f64),
    T(&'static str),
}

/// The county's file, one row per indicator, the project columns repeated, under a title row.
/// `bad` puts three mistakes in it: an operator that is none of ≥ ≤ = 定性 (row 4, column L),
/// a quantitative indicator without its unit (row 7, column N), and a department that does not
/// exist (row 8, column C).
fn county_file(bad: bool) -> Vec<u8> {
    use C::{N, T};
    let p1 = [
        T("XY2024-D001-001"),
        T("基层医疗机构体检服务"),
        T("县卫生健康局"),
        T("卫生健康"),
        N(1_250_000.5),
        N(2024.0),
        T("否"),
        T("一般公共预算"),
    ];
    let p2 = [
        T("XY2024-D002-001"),
        T("义务教育营养改善"),
        T("D002"),
        T("education"),
        T("2,000,000.00"),
        N(2024.0),
        T("是"),
        T("上级转移支付"),
    ];
    let p3_department = if bad { "县不存在局" } else { "县交通运输局" };
    let p3 = [
        T("XY2024-D003-001"),
        T("农村公路养护"),
        T(p3_department),
        T("交通运输"),
        N(800_000.0),
        N(2024.0),
        T("否"),
        T("一般公共预算"),
    ];
    let rows: Vec<Vec<C>> = vec![
        [&p1[..], &[T("产出指标"), T("数量指标"), T("体检人数"), T("≥"), N(12000.0), T("人"), N(30.0), T("计划标准")]]
            .concat(),
        [
            &p1[..],
            &[
                T("产出指标"),
                T("质量指标"),
                T("体检合格率"),
                T(if bad { "大约" } else { "≥" }),
                T("95%"),
                T("%"),
                N(30.0),
                T("行业标准"),
            ],
        ]
        .concat(),
        [
            &p1[..],
            &[T("效益指标"), T("社会效益指标"), T("群众健康水平"), T("定性"), T("有所提升"), T(""), N(40.0), T("其他")],
        ]
        .concat(),
        [
            &p2[..],
            &[T("产出指标"), T("数量指标"), T("受益学生人数"), T("≥"), N(5200.0), T("人"), N(50.0), T("历史标准")],
        ]
        .concat(),
        [
            &p2[..],
            &[
                T("满意度指标"),
                T("服务对象满意度指标"),
                T("家长满意度"),
                T("≥"),
                N(90.0),
                T(if bad { "" } else { "%" }),
                N(50.0),
                T("计划标准"),
            ],
        ]
        .concat(),
        [&p3[..], &[T("产出指标"), T("数量指标"), T("养护里程"), T("≥"), N(120.0), T("公里"), N(100.0), T("计划标准")]]
            .concat(),
    ];
    let mut book = Workbook::new();
    let sheet = book.add_worksheet().set_name("项目").unwrap();
    sheet.write_string(0, 0, "2024年县级项目绩效目标申报表").unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 2, c as u16);
            match cell {
                N(n) => sheet.write_number(r, c, *n).map(|_| ()).unwrap(),
                T(t) => sheet.write_string(r, c, *t).map(|_| ()).unwrap(),
            }
        }
    }
    book.save_to_buffer().unwrap()
}

async fn projects_2024(app: &TestApp) -> Value {
    app.ok_get("/api/v1/projects?fiscal_year=2024&limit=100", ADMIN_TOKEN).await
}

#[tokio::test]
async fn a_project_file_imports_all_or_nothing_and_exports_import_back_unchanged() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let finance = &c.finance_tokens[0];

    // Three mistakes: each reported at its row and column, and nothing stored.
    let (s, report) = app.upload("/api/v1/imports?file=2024.xlsx", finance, county_file(true)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{report:#}");
    let mut at: Vec<(i64, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["row"].as_i64().unwrap(), p["column"].as_str().unwrap_or("-").to_string()))
        .collect();
    at.sort();
    assert_eq!(at, [(4, "L".to_string()), (7, "N".to_string()), (8, "C".to_string())], "{report:#}");
    let messages = report["problems"].to_string();
    assert!(
        messages.contains("大约") && messages.contains("县不存在局") && messages.contains("度量单位"),
        "{messages}"
    );
    // (Each of the three projects has a bad row, so none of them is even counted.)
    assert_eq!((&report["stored"], &report["projects"]["created"]), (&json!(false), &json!(0)), "{report:#}");
    assert_eq!(projects_2024(&app).await["total"], 0, "a file with a problem stores nothing");

    // A dry run of the corrected file says what it would do and stores nothing either.
    let (s, report) = app.upload("/api/v1/imports?file=2024.xlsx&dry_run=true", finance, county_file(false)).await;
    assert_eq!((s, &report["projects"]["created"], &report["stored"]), (StatusCode::OK, &json!(3), &json!(false)));
    assert_eq!(projects_2024(&app).await["total"], 0);

    let (s, report) = app.upload("/api/v1/imports?file=2024.xlsx", finance, county_file(false)).await;
    assert_eq!(
        (s, &report["projects"]["created"], &report["stored"]),
        (StatusCode::OK, &json!(3), &json!(true)),
        "{report:#}"
    );
    let listed = projects_2024(&app).await;
    let p1 = listed["items"].as_array().unwrap().iter().find(|p| p["code"] == "XY2024-D001-001").unwrap().clone();
    let p1 = app.ok_get(&format!("/api/v1/projects/{}", p1["id"]), ADMIN_TOKEN).await;
    assert_eq!(
        (&p1["amount"], &p1["department_code"], &p1["is_new"]),
        (&json!("1250000.50"), &json!("D001"), &json!(false))
    );
    let ind = &p1["indicators"][1];
    assert_eq!((&ind["value"], &ind["unit"], &ind["basis"]), (&json!("95"), &json!("%"), &json!("行业标准")), "{p1:#}");
    assert_eq!(p1["indicators"][2]["operator"], "定性");

    // The same file again changes nothing.
    let (s, report) = app.upload("/api/v1/imports?file=2024.xlsx", finance, county_file(false)).await;
    assert_eq!((s, &report["projects"]), (StatusCode::OK, &json!({"created": 0, "updated": 0, "unchanged": 3})));

    // Exported as XLSX (numbers as numbers, the header row frozen) and as CSV, each file
    // imports back as the same data.
    let (s, kind, xlsx) = app.download("/api/v1/exports/projects.xlsx?fiscal_year=2024", finance).await;
    assert_eq!((s, kind.as_str()), (StatusCode::OK, XLSX));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.clone())).expect("an XLSX is a zip");
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut sheet).unwrap();
    assert!(sheet.contains("state=\"frozen\"") && sheet.contains("ySplit=\"1\""), "the header row is frozen");
    assert!(sheet.contains("<v>1250000.5</v>"), "the amount is a number cell");
    let (s, csv_type, csv) = app.download("/api/v1/exports/projects.csv?fiscal_year=2024", finance).await;
    assert_eq!((s, csv_type.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert!(String::from_utf8(csv.clone()).unwrap().starts_with("\u{feff}项目编码"));
    for (name, file) in [("export.xlsx", xlsx), ("export.csv", csv)] {
        let (s, report) = app.upload(&format!("/api/v1/imports?file={name}"), finance, file).await;
        assert_eq!((s, &report["projects"]["unchanged"]), (StatusCode::OK, &json!(3)), "{name}: {report:#}");
    }

    // A department imports its own projects only.
    let (s, v) = app.upload("/api/v1/imports?file=2024.xlsx", &c.dept_tokens[0], county_file(false)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("XY2024-D002-001"), "{v}");

    // Once a cycle has taken a project up, a file cannot change it.
    app.ok("/api/v1/workflows", ADMIN_TOKEN, json!({"source": ONE_STAGE})).await;
    app.ok(
        "/api/v1/cycles",
        finance,
        json!({"workflow_id": "self-only", "fiscal_year": 2024, "project_codes": ["XY2024-D001-001"]}),
    )
    .await;
    let changed = county_file(false);
    let (s, report) = app.upload("/api/v1/imports?file=2024.xlsx", finance, changed.clone()).await;
    assert_eq!(s, StatusCode::OK, "an unchanged project in a cycle is fine: {report:#}");
    let (s, report) = app.upload("/api/v1/imports?file=cut.xlsx", finance, one_project("XY2024-D001-001")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{report:#}");
    let problem = &report["problems"][0];
    assert_eq!((&problem["row"], &problem["column"]), (&json!(2), &json!("A")), "{report:#}");
    assert!(problem["message"].as_str().unwrap().contains("already in a cycle"), "{report:#}");

    // A department's overall declaration is not a budget project: a file naming its code is
    // refused at that cell, and the declaration stays as it was.
    let overall = json!({"duties": "负责全县卫生健康事业发展规划。", "key_work": [{"name": "基本公共卫生服务", "amount": "2000000"}],
                         "amount": "5000000"});
    let (s, v) = app
        .call(reqwest::Method::PUT, "/api/v1/departments/D001/overall/2024", Some(&c.dept_tokens[0]), Some(overall))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, report) = app.upload("/api/v1/imports?file=overall.xlsx", finance, one_project("ZT-D001-2024")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{report:#}");
    let problem = &report["problems"][0];
    assert_eq!((&problem["row"], &problem["column"]), (&json!(2), &json!("A")), "{report:#}");
    assert!(problem["message"].as_str().unwrap().contains("overall declaration"), "{report:#}");
    let kept = app.ok_get("/api/v1/departments/D001/overall/2024", finance).await;
    assert_eq!((&kept["project"]["amount"], &kept["project"]["name"]), (&json!("5000000.00"), &v["project"]["name"]));
}

/// A file of one health project of D001 for 2024, 999,999 yuan, without indicators.
fn one_project(code: &str) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    for (col, v) in [code, "基层医疗机构体检服务", "D001", "health"].iter().enumerate() {
        sheet.write_string(1, col as u16, *v).unwrap();
    }
    sheet.write_number(1, 4, 999_999.0).unwrap();
    sheet.write_number(1, 5, 2024.0).unwrap();
    sheet.write_string(1, 7, "一般公共预算").unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn unreadable_files_and_unknown_exports_get_clear_answers() {
    let app = TestApp::spawn().await;
    let c = county(&app).await;
    let finance = &c.finance_tokens[0];
    let (s, v) = app.upload("/api/v1/imports?file=x.xlsx", finance, b"PK\x03\x04 not really a workbook".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("x.xlsx: "), "{v}");
    let (s, v) = app.upload("/api/v1/imports?file=x.csv", finance, Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A users sheet is an admin's to import.
    let users = "用户名,姓名,角色,所属单位,邮箱\r\nclerk9,新办事员,department,D001,clerk9@u.example.cn\r\n";
    let (s, v) = app.upload("/api/v1/imports?file=users.csv", finance, users.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app.upload("/api/v1/imports?file=users.csv", ADMIN_TOKEN, users.as_bytes().to_vec()).await;
    assert_eq!((s, &v["users"]["created"]), (StatusCode::OK, &json!(1)), "{v}");
    // Experts with their sectors and employment history; the same file again changes nothing.
    let experts = "用户名,姓名,行业,职称,工作单位,任职经历,邮箱\r\n\
                   zj01,王专家,卫生健康、教育,主任医师,县人民医院,D001 2018-2022；县教育局 2023-2025,zj01@e.example.cn\r\n";
    let (s, v) = app.upload("/api/v1/imports?file=experts.csv", ADMIN_TOKEN, experts.as_bytes().to_vec()).await;
    assert_eq!((s, &v["users"]["created"]), (StatusCode::OK, &json!(1)), "{v:#}");
    let (s, v) = app.upload("/api/v1/imports?file=experts.csv", ADMIN_TOKEN, experts.as_bytes().to_vec()).await;
    assert_eq!((s, &v["users"]["unchanged"]), (StatusCode::OK, &json!(1)), "{v:#}");
    let changed = experts.replace("2023-2025", "2023-2026");
    let (s, v) = app.upload("/api/v1/imports?file=experts.csv", ADMIN_TOKEN, changed.into_bytes()).await;
    assert_eq!((s, &v["users"]["updated"]), (StatusCode::OK, &json!(1)), "a changed employment history: {v:#}");
    let users = app.ok_get("/api/v1/admin/users?limit=100", ADMIN_TOKEN).await;
    let expert = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "zj01").unwrap();
    assert_eq!((&expert["role"], &expert["display_name"]), (&json!("expert"), &json!("王专家")));
    for path in ["/api/v1/exports/projects.pdf?fiscal_year=2024", "/api/v1/exports/budgets.xlsx?fiscal_year=2024"] {
        let (s, _, _) = app.download(path, finance).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _, _) = app.download("/api/v1/exports/projects.xlsx", finance).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Lists with nothing in them yet are still spreadsheets with their headers.
    for what in ["self-evaluations", "actions"] {
        let (s, kind, bytes) = app.download(&format!("/api/v1/exports/{what}.csv?fiscal_year=2024"), finance).await;
        assert_eq!((s, kind.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"), "{what}");
        assert!(String::from_utf8(bytes).unwrap().lines().count() == 1, "{what}: the header only");
    }
    let (s, _, _) = app.download("/api/v1/exports/monitoring-runs/1.xlsx", &c.dept_tokens[0]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
