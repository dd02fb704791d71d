#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goward::fuzzing::sigstore_bundle(data));
