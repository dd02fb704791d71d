//! Every unsafe call of goward, in one place: the Windows API calls that
//! have no safe wrapper (clearing NTFS compression, writing to the event
//! log) and the service entry point the service control manager calls.
//! The rest of the crate denies `unsafe`.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::{
    COMPRESSION_FORMAT_NONE, FILE_FLAG_BACKUP_SEMANTICS,
};
use windows_sys::Win32::System::EventLog::{
    DeregisterEventSource, EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE, RegisterEventSourceW,
    ReportEventW,
};
use windows_sys::Win32::System::IO::DeviceIoControl;
use windows_sys::Win32::System::Ioctl::FSCTL_SET_COMPRESSION;

/// Sets a directory's compression state to "none", so files created in it
/// from now on are stored uncompressed (what `compact /U` does to a
/// directory).
pub(crate) fn set_compression_none(dir: &Path) -> io::Result<()> {
    // FSCTL_SET_COMPRESSION needs read and write data access; a directory
    // opens only with backup semantics.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(dir)?;
    let format: u16 = COMPRESSION_FORMAT_NONE;
    let mut returned = 0u32;
    // SAFETY: the handle is open and owned by `f`, which outlives the call;
    // the input buffer is a live u16 whose size is passed; no output buffer
    // (null, size 0); `returned` is a valid out pointer; no OVERLAPPED
    // because the handle was opened for synchronous I/O.
    let ok = unsafe {
        DeviceIoControl(
            f.as_raw_handle(),
            FSCTL_SET_COMPRESSION,
            std::ptr::from_ref(&format).cast(),
            size_of::<u16>() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kind of an event-log entry.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EventKind {
    Info,
    Error,
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// Writes one entry to the Application event log under `source` (an event
/// source registered at `goward service install`).
pub(crate) fn report_event(source: &str, kind: EventKind, id: u32, msg: &str) -> io::Result<()> {
    let source = wide(OsStr::new(source));
    // Interior NULs would cut the message short; the event log cannot show them.
    let msg = wide(OsStr::new(&msg.replace('\0', " ")));
    // SAFETY: `source` is a NUL-terminated UTF-16 string alive for the call;
    // a null server name means the local computer.
    let h = unsafe { RegisterEventSourceW(std::ptr::null(), source.as_ptr()) };
    if h.is_null() {
        return Err(io::Error::last_os_error());
    }
    let ty = match kind {
        EventKind::Info => EVENTLOG_INFORMATION_TYPE,
        EventKind::Error => EVENTLOG_ERROR_TYPE,
    };
    let strings = [msg.as_ptr()];
    // SAFETY: `h` is the valid event-source handle just registered; one
    // insertion string, a NUL-terminated UTF-16 buffer alive for the call,
    // passed by a pointer to an array of one; no user SID, no raw data.
    let ok = unsafe {
        ReportEventW(
            h,
            ty,
            0,
            id,
            std::ptr::null_mut(),
            1,
            0,
            strings.as_ptr(),
            std::ptr::null(),
        )
    };
    let err = (ok == 0).then(io::Error::last_os_error);
    // SAFETY: `h` came from RegisterEventSourceW and is released once, here.
    unsafe { DeregisterEventSource(h) };
    err.map_or(Ok(()), Err)
}

// The `extern "system"` entry the service control manager's dispatcher
// calls on its own thread; it hands over to safe code at once.
windows_service::define_windows_service!(ffi_service_main, dispatch);

/// The safe service body `ffi_service_main` runs: given by the caller, so
/// this module needs nothing from the service's own code.
static SERVICE_MAIN: std::sync::OnceLock<fn(Vec<std::ffi::OsString>)> = std::sync::OnceLock::new();

fn dispatch(args: Vec<std::ffi::OsString>) {
    if let Some(main) = SERVICE_MAIN.get() {
        main(args);
    }
}

/// The service entry point for `service_dispatcher::start`, which runs
/// `main` on the dispatcher's thread.
pub(crate) fn service_entry(
    main: fn(Vec<std::ffi::OsString>),
) -> extern "system" fn(u32, *mut *mut u16) {
    let _ = SERVICE_MAIN.set(main);
    ffi_service_main
}
