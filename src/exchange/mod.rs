//! Spreadsheet exchange: reading the XLSX and CSV files that budget systems export into typed
//! records with precise problem reports, and writing tables to XLSX and CSV.
//!
//! Pure: no database, no async, no clock. [`table`] reads a file into sheets of cells (within the bounds
//! [`unpack`] sets on what a workbook may unpack to);
//! [`import`] recognises each sheet's table (departments, users, experts, projects) and turns
//! its rows into `NewDepartment`s, `NewUser`s and `ProjectInput`s, reporting every problem of the
//! file at its sheet, row and column at once; [`write`] writes tables as XLSX or CSV, and the
//! projects in the exact layout that `import` reads back.

pub mod import;
pub mod library;
pub mod table;
pub mod unpack;
pub mod write;
mod xls_check;

pub use import::{Kind, Known, NewDepartment, Origin, Parsed, Problem, Sourced, import, import_file};
pub use table::{Cell, ReadError, Row, Sheet, column_letter, read, read_until};
pub use unpack::Stop;
pub use write::{Column, ColumnKind, Table, Value, WriteError, projects_table, sheet_names, to_csv, to_xlsx};
