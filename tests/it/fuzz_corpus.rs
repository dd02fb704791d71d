//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same entry points the
//! fuzz targets call (`goward::fuzzing`), so every input the fuzzer once kept, and every crash it
//! found, runs in the suite: a panic fails the test with the input's path.

use std::path::Path;

#[test]
fn corpus_replays_without_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut total = 0;
    for (name, run) in goward::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for fuzz target {name}");
        for f in files {
            let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if let Err(p) = std::panic::catch_unwind(|| run(&data)) {
                let msg = p
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                panic!("fuzz target {name} panicked on {}: {msg}", f.display());
            }
            total += 1;
        }
    }
    assert!(total >= goward::fuzzing::TARGETS.len());
}
