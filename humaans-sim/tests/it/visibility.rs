//! What a `public:read`-only token sees, in each configurable mode.

use humaans_sim::{PrivateFields, PublicView, SimConfig};
use reqwest::StatusCode;

use crate::support::{config, get, get_all, start};

const PRIVATE_KEYS: &[&str] = &[
    "personalEmail",
    "personalPhoneNumber",
    "birthday",
    "gender",
    "address",
    "postcode",
    "taxId",
    "employmentEndDate",
    "leavingReason",
    "calendarFeedToken",
];

fn with_view(view: PublicView) -> SimConfig {
    SimConfig {
        public_view: view,
        ..config(250, 31)
    }
}

#[tokio::test]
async fn default_public_view_hides_non_active_people_and_private_fields() {
    let sim = start(config(250, 31)).await;
    let public = sim.tokens().public_only.clone();
    let people = get_all(&sim, &public, "/api/people", 100).await;
    let active: Vec<&str> = sim
        .company()
        .people()
        .iter()
        .filter(|p| p.status.as_deref() == Some("active"))
        .map(|p| p.id.as_str())
        .collect();
    let seen: Vec<&str> = people.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(seen, active);
    assert!(
        active.len() < 250,
        "the company has non-active people to hide"
    );
    for person in &people {
        for key in PRIVATE_KEYS {
            assert!(person.get(*key).is_none(), "{key} omitted");
        }
        assert!(person.get("email").is_some() && person.get("employmentStartDate").is_some());
    }
    let hidden = sim
        .company()
        .people()
        .iter()
        .find(|p| p.status.as_deref() == Some("offboarded"))
        .unwrap();
    let reply = get(&sim, Some(&public), &format!("/api/people/{}", hidden.id)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let full = get(
        &sim,
        Some(&sim.tokens().full.clone()),
        &format!("/api/people/{}", hidden.id),
    )
    .await;
    assert_eq!(full.status, StatusCode::OK);
    assert!(full.json()["personalEmail"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn configurable_public_view() {
    let view = PublicView {
        hide_non_active: false,
        private_fields: PrivateFields::Null,
        job_roles_need_private: false,
    };
    let sim = start(with_view(view)).await;
    let public = sim.tokens().public_only.clone();
    let people = get_all(&sim, &public, "/api/people", 250).await;
    assert_eq!(people.len(), 250);
    for person in &people {
        for key in PRIVATE_KEYS {
            assert!(
                person[*key].is_null() && person.get(*key).is_some(),
                "{key} is null"
            );
        }
    }
    let roles = get_all(&sim, &public, "/api/job-roles", 250).await;
    assert_eq!(roles.len(), sim.company().job_roles().len());
    sim.shutdown().await;

    // Job roles readable, but people still hidden: only the roles of visible people.
    let view = PublicView {
        job_roles_need_private: false,
        ..PublicView::default()
    };
    let sim = start(with_view(view)).await;
    let public = sim.tokens().public_only.clone();
    let company = sim.company().clone();
    let roles = get_all(&sim, &public, "/api/job-roles", 250).await;
    assert!(!roles.is_empty());
    for role in &roles {
        let owner = company.person(role["personId"].as_str().unwrap()).unwrap();
        assert_eq!(owner.status.as_deref(), Some("active"));
    }
    sim.shutdown().await;
}
