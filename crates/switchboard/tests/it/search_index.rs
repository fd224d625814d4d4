//! Substring search over agents: right answers on both backends, through
//! SQLite's FTS5 trigram table (shown by its plan).

use crate::support::*;
use switchboard_domain::AgentFilter;

#[tokio::test]
async fn agent_substring_search_plans_use_the_trigram_indexes() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    for i in 0..20 {
        c.post("/api/v1/agents", serde_json::json!({"loginId": format!("ag{i}"), "firstName": "Ann", "lastName": format!("Smith{i}"), "phone": format!("55500{i:03}")}))
            .await
            .expect(201);
    }
    // The plans at scale are checked by the store's tests (tests/search_plans.rs);
    // here, on a small tenant, that search answers right on this backend.
    if !on_postgres() {
        let f = AgentFilter { last_name_contains: Some("mith1".into()), ..Default::default() };
        let plan = switchboard_store::explain_agent_search(&srv.db.url, &srv.db.options(), t.id, &f).await.expect("explain");
        assert!(plan.contains("SCAN f VIRTUAL TABLE INDEX") && !plan.contains("=M"), "the FTS5 index drives: {plan}");
    }
    // And the answers are right (the index is not lossy).
    let found = c.get("/api/v1/agents?lastName=MITH1&limit=100").await.expect(200);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 11, "Smith1 and Smith10..19");
    let found = c.get("/api/v1/agents?q=h19").await.expect(200);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
}
