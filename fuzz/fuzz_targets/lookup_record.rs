#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goward::fuzzing::lookup_record(data));
