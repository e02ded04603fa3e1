//! The storage contract, each case its own test on each store.

mod in_memory {
    ticketing_testkit::contract_tests!(ticketing_testkit::test_app::memory());
}

mod on_dynamodb_local {
    ticketing_testkit::contract_tests!(ticketing_testkit::test_app::dynamodb().await);
}
