//! Sessions of the derived int8 models (which declare the custom
//! `inference_hub.ByteLookup` operator) built on many threads at once, as the
//! engine does when it loads the detector and recogniser side by side.
//! ONNX Runtime's first registration of a custom domain is not thread-safe;
//! this failed about one load in six before the engine built the first
//! session alone. It needs `make setup` (the models and ONNX Runtime).

mod common;

use std::sync::Barrier;

use hub_ocr::{Alphabet, ModelFiles, OrtModel, Precision, SessionOptions};

#[test]
fn int8_sessions_load_on_many_threads_at_once() {
    common::init_runtime();
    let files = ModelFiles::in_dir(&common::models(), Precision::Int8, Alphabet::Latin);
    let threads = 16;
    let start = Barrier::new(threads);
    let options = SessionOptions { threads: 1, spinning: false };
    std::thread::scope(|scope| {
        let loads: Vec<_> = (0..threads)
            .map(|i| {
                let (start, files) = (&start, &files);
                let path = if i % 2 == 0 { &files.detector } else { &files.recognizer };
                scope.spawn(move || {
                    start.wait();
                    OrtModel::load_sessions(path, "model", options, 1).map(|sessions| sessions.len())
                })
            })
            .collect();
        for load in loads {
            assert_eq!(load.join().unwrap().unwrap(), 1);
        }
    });
}
