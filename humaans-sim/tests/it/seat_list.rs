//! Seat-list CSV files: their shape, spreadsheet variants, and a truth that equals an
//! independent count of the file.

use std::collections::BTreeSet;

use humaans_sim::seat_list::{HEADER, SeatList, SeatListOptions};
use humaans_sim::{Company, CompanySpec};

use crate::tally::{Account, Hr, PoolIn, date, tally};

/// A plain RFC 4180 reader: quoted fields with commas, doubled quotes, CRLF or LF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && row.is_empty(),
        "the file ends with a line break"
    );
    rows
}

fn company(people: usize, seed: u64, as_of: &str) -> Company {
    Company::generate(&CompanySpec::new(people, seed, as_of.parse().unwrap())).unwrap()
}

#[test]
fn the_file_has_the_documented_shape_and_variety() {
    let company = company(1_000, 3, "2026-03-15");
    let list = SeatList::plant(&company, "Slack");
    let text = list.csv(&SeatListOptions::default());
    assert!(!text.contains('\r'));
    let rows = parse_csv(&text);
    assert_eq!(rows[0].join(","), HEADER);
    let rows = &rows[1..];
    assert_eq!(rows.len(), list.rows().len());
    assert!(rows.iter().all(|r| r.len() == 7 && r[0] == "Slack"));
    let column = |k: usize| -> BTreeSet<&str> { rows.iter().map(|r| r[k].as_str()).collect() };
    // Quoted fields with commas: account names and a licence tier.
    assert!(text.contains("\"Business+, annual\""));
    assert!(rows.iter().any(|r| r[1].contains(", ")));
    // Empty and several licence tiers.
    let licences = column(3);
    assert!(licences.contains("") && licences.len() >= 4, "{licences:?}");
    // Several status spellings in mixed case, empty meaning active.
    let statuses = column(4);
    for spelling in [
        "",
        "active",
        "Active",
        "ACTIVE",
        "Deactivated",
        "SUSPENDED",
        "inactive",
    ] {
        assert!(statuses.contains(spelling), "{spelling:?} in {statuses:?}");
    }
    // Both date forms, and empty last_active.
    let last_active = column(5);
    assert!(last_active.contains(""));
    assert!(last_active.iter().any(|d| d.len() == 10));
    assert!(last_active.iter().any(|d| d.contains('T')));
    assert!(column(6).iter().any(|d| d.len() == 10) && column(6).iter().any(|d| d.contains('T')));
    // Only application and one of account/email are required; email is sometimes empty.
    assert!(rows.iter().all(|r| !r[1].is_empty() || !r[2].is_empty()));
    assert!(rows.iter().any(|r| r[2].is_empty()));

    // Planted on the rule boundaries: last active 30 and 31 days back, assigned 14 and 15
    // days back without activity.
    let d: chrono::NaiveDate = "2026-03-15".parse().unwrap();
    let back = |text: &str| (!text.is_empty()).then(|| (d - date(text)).num_days());
    for n in [30, 31] {
        assert!(
            rows.iter().any(|r| back(&r[5]) == Some(n)),
            "last_active {n} days back"
        );
    }
    for n in [14, 15] {
        assert!(
            rows.iter()
                .any(|r| r[5].is_empty() && back(&r[6]) == Some(n)),
            "assigned {n} days back"
        );
    }

    let excel = list.csv(&SeatListOptions {
        bom: true,
        crlf: true,
    });
    let stripped = excel.strip_prefix('\u{feff}').expect("starts with a BOM");
    assert_eq!(stripped.replace("\r\n", "\n"), text);
    assert_eq!(stripped.matches("\r\n").count(), rows.len() + 1);
}

#[test]
fn truth_equals_an_independent_count_of_the_file() {
    let cases = [
        (1, 60, "2025-06-15", "Slack"),
        (7, 800, "2024-02-29", "Figma"),
        (42, 1_500, "2025-12-31", "Acme, Inc."),
    ];
    for (seed, people, as_of, app) in cases {
        let company = company(people, seed, as_of);
        let hr = Hr::new(&company);
        let list = SeatList::plant(&company, app);
        let text = list.csv(&SeatListOptions {
            bom: seed % 2 == 1,
            crlf: seed == 7,
        });
        let rows = parse_csv(text.trim_start_matches('\u{feff}'));
        let mut pools: Vec<PoolIn> = Vec::new();
        let mut accounts = Vec::new();
        for row in &rows[1..] {
            let (application, login, email, licence) = (&row[0], &row[1], &row[2], &row[3]);
            assert_eq!(application, app);
            let name = if licence.is_empty() {
                app
            } else {
                licence.as_str()
            };
            let id = format!("{app}/{name}");
            match pools.iter_mut().find(|p| p.id == id) {
                Some(pool) => pool.assigned += 1,
                None => pools.push(PoolIn {
                    id: id.clone(),
                    name: name.to_owned(),
                    purchased: None,
                    assigned: 1,
                }),
            }
            let status = row[4].trim().to_lowercase();
            accounts.push(Account {
                addresses: vec![email.clone(), login.clone()],
                // A seat list has no account type: nothing is a guest, and service
                // accounts stay unidentified under the default rules.
                excluded: false,
                enabled: !matches!(
                    status.as_str(),
                    "disabled" | "deactivated" | "suspended" | "inactive"
                ),
                licences: vec![id],
                last_activity: (!row[5].is_empty()).then(|| date(&row[5])),
                grace_start: (!row[6].is_empty()).then(|| date(&row[6])),
            });
        }
        let counted = tally(
            "seat_list",
            as_of.parse().unwrap(),
            true,
            &accounts,
            pools,
            &hr,
        );
        let truth = serde_json::to_value(list.truth(&company)).unwrap();
        assert_eq!(counted, truth, "seed {seed}, {people} people, {app}");
        let library = humaans_sim::seat_list::truth(company.spec(), app, &Default::default())
            .map(|t| serde_json::to_value(t).unwrap());
        assert_eq!(library.unwrap(), truth);
        assert_eq!(truth["joined"]["counts"]["excluded"].as_u64(), Some(0));
        assert!(truth["joined"]["counts"]["unidentified"].as_u64().unwrap() > 0);
    }
}

#[test]
fn purchased_seats_give_unassigned_ones() {
    let company = company(500, 4, "2026-03-15");
    let list = SeatList::plant(&company, "Slack");
    let bare = list.truth(&company);
    let pro = bare
        .pools
        .iter()
        .find(|p| p.name == "Pro")
        .unwrap()
        .assigned;
    let purchased = [("Pro".to_owned(), pro + 7), ("Slack".to_owned(), 1)].into();
    let truth = list.truth_with_purchased(&company, &purchased);
    let pool = |name: &str| truth.pools.iter().find(|p| p.name == name).unwrap().clone();
    assert_eq!(
        (pool("Pro").purchased, pool("Pro").unassigned),
        (Some(pro + 7), Some(7))
    );
    // Fewer purchased than assigned: nothing unassigned.
    assert_eq!(pool("Slack").unassigned, Some(0));
    assert_eq!(pool("Enterprise").purchased, None);
    assert_eq!(truth.joined.unassigned, 7);
    assert_eq!(truth.joined.reclaimable, bare.joined.reclaimable + 7);
}

#[test]
fn each_application_has_its_own_holders() {
    let company = company(300, 9, "2026-03-15");
    let slack = SeatList::plant(&company, "Slack");
    let figma = SeatList::plant(&company, "Figma");
    assert_ne!(slack.rows().len(), 0);
    let accounts = |l: &SeatList| {
        l.rows()
            .iter()
            .map(|r| r.account.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(accounts(&slack), accounts(&figma));
    assert_eq!(
        slack.csv(&SeatListOptions::default()),
        SeatList::plant(&company, "Slack").csv(&SeatListOptions::default())
    );
}
