//! Every answer carries an `x-request-id`: the client's when it is sane, a
//! fresh UUID otherwise.

use crate::harness::App;

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = App::loading(&["--enable-ocr", "0"]);
    let (_, headers, _) = app.get_text("/live", &[]).await;
    let generated = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let (_, again, _) = app.get_text("/live", &[]).await;
    assert_ne!(again["x-request-id"], generated.as_str(), "ids are per request");

    let (_, kept, _) = app.get_text("/live", &[("x-request-id", "odoo-7f3a.1")]).await;
    assert_eq!(kept["x-request-id"], "odoo-7f3a.1");
    let (_, replaced, _) = app.get_text("/ready", &[("x-request-id", "two words")]).await;
    assert_eq!(replaced["x-request-id"].len(), 36, "{replaced:?}");
    // Error answers too.
    let (status, missing, _) = app.get_text("/nope", &[("x-request-id", "abc")]).await;
    assert_eq!((status, missing["x-request-id"].to_str().unwrap()), (404, "abc"));
}
