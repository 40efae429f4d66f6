//! Access control on the real binary: a bad allow-list stops the start with
//! exit status 1 and a message naming the entry. API keys (401), the IP
//! allow-list (403), the rate limit (429), open probes and keys kept out of
//! the log are checked in process: `tests/in_process/access.rs`.

mod common;

use common::Server;

#[tokio::test]
async fn bad_allow_list_stops_the_start_with_a_clear_message() {
    let mut server = Server::start_or_exit(&["--allow-ips", "odoo.internal"]);
    assert_eq!(server.wait_exit(std::time::Duration::from_secs(10)), Some(1));
    assert!(server.logs().contains("odoo.internal"), "{}", server.logs());
}
