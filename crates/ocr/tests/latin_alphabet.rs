//! The Latin recogniser that `scripts/quantize.py` (`latin()`) derives keeps
//! exactly the classes [`Alphabet::Latin`] admits: Python and Rust each spell
//! the Latin alphabet out, and this test is what keeps them in step.

mod common;

use hub_ocr::{Alphabet, OrtModel, SessionOptions};

fn characters(file: &str) -> Vec<String> {
    let path = common::models().join(file);
    let model = OrtModel::load_sessions(&path, "recogniser", SessionOptions { threads: 1, spinning: false }, 1)
        .unwrap()
        .remove(0);
    let characters =
        model.metadata("character").unwrap().unwrap_or_else(|| panic!("{file} has no `character` metadata"));
    characters.split('\n').map(str::to_owned).collect()
}

#[test]
fn latin_model_keeps_exactly_the_classes_the_latin_alphabet_admits() {
    common::init_runtime();
    let full = characters("ppocrv6_rec.onnx");
    let latin = characters("ppocrv6_rec.latin.onnx");
    let admitted: Vec<String> = full.iter().filter(|ch| Alphabet::Latin.admits(ch)).cloned().collect();
    assert!(admitted.len() > 100, "only {} Latin classes in the full model", admitted.len());
    if latin != admitted {
        let missing: Vec<&String> = admitted.iter().filter(|ch| !latin.contains(ch)).collect();
        let extra: Vec<&String> = latin.iter().filter(|ch| !admitted.contains(ch)).collect();
        panic!(
            "the Latin model's classes ({}) differ from those Alphabet::Latin admits ({}): \
             missing {missing:?}, extra {extra:?} (or the order differs); \
             bring scripts/quantize.py `latin()` and crates/ocr/src/ctc.rs `Alphabet::admits` in step",
            latin.len(),
            admitted.len()
        );
    }
}
