//! Writes the corpus seeds that need the fuzz signing key (signed notes and lookup responses)
//! into `fuzz/corpus/`. The other seeds are plain files copied from `testdata/` and `policy/`.
use std::fs;
use std::path::Path;

use goward::xmod::{note, tlog};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let signer = goward::fuzzing::note_signer();
    let name = signer.name().to_owned();
    let tree = |n: u64| {
        let t = tlog::Tree { n, hash: tlog::record_hash(b"fuzz") };
        note::sign(&tlog::format_tree(&t), &[&signer]).expect("signing a tree note")
    };
    let text = b"example.com/m v1.0.0 h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nexample.com/m v1.0.0/go.mod h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    fs::create_dir_all(dir.join("signed_note"))?;
    fs::create_dir_all(dir.join("lookup_record"))?;
    for n in [0u64, 1, 1000, u64::MAX] {
        fs::write(dir.join("signed_note").join(format!("tree-{n}")), tree(n))?;
        let mut rec = tlog::format_record(n.min(999), text).expect("formatting a record");
        rec.extend_from_slice(&tree(n));
        fs::write(dir.join("lookup_record").join(format!("record-{n}")), rec)?;
    }
    println!("wrote signed seeds for key {name}");
    Ok(())
}
