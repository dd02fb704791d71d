#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goward::fuzzing::bundle_manifest(data));
