//! Tests of the parent module.
use super::*;
use crate::models::BiometricRecord;
use hikvision_isapi::wire::FaceMatch;

fn employee(no: &str, photo: bool) -> Employee {
    Employee {
        id: Uuid::new_v4(),
        last_name: "P".into(),
        first_name: "I".into(),
        biometrics: Some(BiometricRecord {
            employee_no: Some(no.parse()),
            photo_url: photo.then(|| format!("{no}.jpg")),
        }),
        validity: Default::default(),
    }
}

fn face(no: &str) -> FaceMatch {
    serde_json::from_value(serde_json::json!({"FPID": no})).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_report_sorts_every_person_into_one_place() {
    let person = |no: &str, name: &str| {
        let mut p = hikvision_isapi::build_person(&no.parse().unwrap(), name);
        p.name = name.into();
        p
    };
    let contents = TerminalContents {
        persons: vec![
            person("1", "A"),
            person("2", "B"),
            person("9", "Hand Enrolled"),
        ],
        faces: vec![face("1")],
    };
    let staff = [
        employee("1", true),
        employee("2", true),
        employee("3", true),
    ];
    let expected: Vec<&Employee> = staff.iter().collect();
    let report = compare(&contents, &expected);
    assert_eq!(report.in_sync, 1);
    assert_eq!(report.face_missing, ["2"]);
    assert_eq!(report.missing_on_terminal, ["3"]);
    assert_eq!(
        report.unknown_on_terminal,
        [UnknownPerson {
            employee_no: "9".into(),
            name: "Hand Enrolled".into()
        }]
    );
}

#[test]
fn a_window_that_differs_from_the_dates_is_reported() {
    let until = |text: &str| match crate::models::Bound::parse(text) {
        Some(crate::models::BoundValue::Bound(b)) => Some(b),
        other => panic!("{other:?}"),
    };
    let person = |no: &str, begin: &str, end: &str, enable: bool| {
        let mut p = hikvision_isapi::build_person(&no.parse().unwrap(), "P");
        if let Some(v) = p.valid.as_mut() {
            (v.begin_time, v.end_time, v.enable) = (begin.into(), end.into(), enable);
        }
        p
    };
    let contents = TerminalContents {
        persons: vec![
            // Right window; the wide window of an employee without dates; a window the firmware
            // reports as disabled (1970) for an employee without dates.
            person("1", "2020-01-01T00:00:00", "2026-12-31T23:59:59", true),
            person("2", "2020-01-01T00:00:00", "2037-12-31T23:59:59", true),
            person("3", "1970-01-01T00:00:00", "1970-01-01T00:00:00", true),
            // Behind: an end date the terminal never got; and no window at all.
            person("4", "2020-01-01T00:00:00", "2037-12-31T23:59:59", true),
            person("5", "1970-01-01T00:00:00", "1970-01-01T00:00:00", false),
        ],
        faces: vec![],
    };
    let with_end = |no: &str| {
        let mut a = employee(no, true);
        a.validity.until = until("2026-12-31");
        a
    };
    let staff = [
        with_end("1"),
        employee("2", true),
        employee("3", true),
        with_end("4"),
        with_end("5"),
        with_end("6"),
    ];
    let expected: Vec<&Employee> = staff.iter().collect();
    let diffs = compare_validity(&contents, &expected, Tz::UTC);
    let expected_window = WindowView {
        begin: "2020-01-01T00:00:00".into(),
        end: "2026-12-31T23:59:59".into(),
    };
    assert_eq!(
        diffs,
        [
            ValidityDiff {
                employee_no: "4".into(),
                expected: expected_window.clone(),
                on_terminal: Some(WindowView {
                    begin: "2020-01-01T00:00:00".into(),
                    end: "2037-12-31T23:59:59".into(),
                }),
            },
            ValidityDiff {
                employee_no: "5".into(),
                expected: expected_window,
                on_terminal: None,
            },
        ]
    );
}

#[test]
fn unknown_person_keys_are_stable_and_per_terminal() {
    assert_eq!(unknown_person_key("d1", "9"), unknown_person_key("d1", "9"));
    assert_ne!(unknown_person_key("d1", "9"), unknown_person_key("d2", "9"));
    assert_ne!(
        unknown_person_key("d1", "9"),
        unknown_person_key("d1", "10")
    );
}

#[test]
fn the_runs_are_bounded_and_one_runs_per_terminal() {
    let runs = Reconciles::default();
    let (first, new) = runs.start("d1");
    assert!(new);
    assert_eq!(runs.start("d1"), (first, false));
    runs.update(first, |r| r.state = ReconcileState::Done);
    for i in 0..(MAX_RUNS + 5) {
        let (id, _) = runs.start(&format!("x{i}"));
        runs.update(id, |r| r.state = ReconcileState::Done);
    }
    assert!(runs.lock().by_id.len() <= MAX_RUNS);
    assert!(
        runs.get(first).is_none(),
        "the oldest finished run is forgotten"
    );
}
