//! How the binary reports errors: one message per cause, exit code 1.

use crate::support::cli::Cli;

#[test]
fn an_io_error_names_the_file_and_its_cause_once() {
    let out = Cli::new()
        .args(["schema", "--out", "/dev/null/schemas"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let cause = "Not a directory";
    assert_eq!(err.matches(cause).count(), 1, "{err}");
    insta::assert_snapshot!("io_error", err);
}

#[test]
fn a_wrapped_error_prints_its_chain_once() {
    let out = Cli::new()
        .args(["apply", "--plan", "missing.json"])
        .output();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: cannot read the plan file `missing.json`: No such file or directory (os error 2)\n"
    );
    assert!(out.stdout.is_empty());
}
