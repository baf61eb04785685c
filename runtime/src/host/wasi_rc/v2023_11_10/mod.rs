//! WASI 0.2.0-rc-2023-11-10 (Spin 2.1 era SDKs), nearly identical to 0.2.0,
//! served by the current WASI 0.2 implementation.

mod cli;
mod filesystem;
mod http;
mod io;
mod sockets;

mod convert {
    use super::bindings::wasi;

    shared_conversions!(wasi);
    http_error_conversions!(wasi);
}

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker};

use crate::host::InstanceState;

/// The world's exports, for the HTTP executor.
pub use bindings::{SpinRc as Guest, SpinRcPre as GuestPre};

pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> Result<()> {
    bindings::SpinRc::add_to_linker::<_, HasSelf<InstanceState>>(linker, |s| s)?;
    Ok(())
}

mod bindings {
    use crate::host::wasi_rc::{latest, latest_http};

    wasmtime::component::bindgen!({
        path: "../wit/wasi-2023-11-10",
        world: "spinkube:wasi-rc/spin-rc",
        imports: {
            // Async where the 0.2 implementation is (calls that wait for
            // I/O); everything else is a plain function.
            "wasi:io/poll.poll": async | trappable,
            "wasi:io/poll.[method]pollable.block": async | trappable,
            "wasi:io/poll.[method]pollable.ready": async | trappable,
            "wasi:io/streams.[method]input-stream.blocking-read": async | trappable,
            "wasi:io/streams.[method]input-stream.blocking-skip": async | trappable,
            "wasi:io/streams.[drop]input-stream": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-splice": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-flush": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-write-and-flush": async | trappable,
            "wasi:io/streams.[method]output-stream.blocking-write-zeroes-and-flush": async | trappable,
            "wasi:io/streams.[drop]output-stream": async | trappable,
            "wasi:filesystem/types.[method]descriptor.advise": async | trappable,
            "wasi:filesystem/types.[method]descriptor.create-directory-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.get-flags": async | trappable,
            "wasi:filesystem/types.[method]descriptor.get-type": async | trappable,
            "wasi:filesystem/types.[method]descriptor.is-same-object": async | trappable,
            "wasi:filesystem/types.[method]descriptor.link-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.metadata-hash": async | trappable,
            "wasi:filesystem/types.[method]descriptor.metadata-hash-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.open-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.read": async | trappable,
            "wasi:filesystem/types.[method]descriptor.read-directory": async | trappable,
            "wasi:filesystem/types.[method]descriptor.readlink-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.remove-directory-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.rename-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-size": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-times": async | trappable,
            "wasi:filesystem/types.[method]descriptor.set-times-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.stat": async | trappable,
            "wasi:filesystem/types.[method]descriptor.stat-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.symlink-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.sync": async | trappable,
            "wasi:filesystem/types.[method]descriptor.sync-data": async | trappable,
            "wasi:filesystem/types.[method]descriptor.unlink-file-at": async | trappable,
            "wasi:filesystem/types.[method]descriptor.write": async | trappable,
            "wasi:filesystem/types.[method]directory-entry-stream.read-directory-entry": async | trappable,
            "wasi:sockets/tcp.[method]tcp-socket.start-bind": async | trappable,
            "wasi:sockets/tcp.[method]tcp-socket.start-listen": async | trappable,
            "wasi:sockets/udp.[method]udp-socket.start-bind": async | trappable,
            "wasi:sockets/udp.[method]udp-socket.stream": async | trappable,
            "wasi:sockets/udp.[drop]outgoing-datagram-stream": async | trappable,
            "wasi:sockets/udp-create-socket.create-udp-socket": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        // Errors of the current implementation pass through unchanged and are
        // converted once, in each interface's `convert_*` function.
        trappable_error_type: {
            "wasi:io/streams.stream-error" => wasmtime_wasi::p2::StreamError,
            "wasi:filesystem/types.error-code" => wasmtime_wasi::p2::FsError,
            "wasi:sockets/network.error-code" => wasmtime_wasi::p2::SocketError,
            "wasi:http/types.error-code" => wasmtime_wasi_http::p2::HttpError,
            "wasi:http/types.header-error" => wasmtime_wasi_http::p2::HeaderError,
        },
        // Resources whose shape did not change are the current types, so
        // handles move freely between the two versions' functions.
        with: {
            "wasi:io/poll.pollable": latest::io::poll::Pollable,
            "wasi:io/streams.input-stream": latest::io::streams::InputStream,
            "wasi:io/streams.output-stream": latest::io::streams::OutputStream,
            "wasi:io/error.error": latest::io::error::Error,
            "wasi:filesystem/types.descriptor": latest::filesystem::types::Descriptor,
            "wasi:filesystem/types.directory-entry-stream": latest::filesystem::types::DirectoryEntryStream,
            "wasi:cli/terminal-input.terminal-input": latest::cli::terminal_input::TerminalInput,
            "wasi:cli/terminal-output.terminal-output": latest::cli::terminal_output::TerminalOutput,
            "wasi:sockets/network.network": latest::sockets::network::Network,
            "wasi:sockets/tcp.tcp-socket": latest::sockets::tcp::TcpSocket,
            "wasi:sockets/udp.udp-socket": latest::sockets::udp::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": latest::sockets::udp::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": latest::sockets::udp::OutgoingDatagramStream,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": latest::sockets::ip_name_lookup::ResolveAddressStream,
            "wasi:http/types.fields": latest_http::types::Fields,
            "wasi:http/types.incoming-request": latest_http::types::IncomingRequest,
            "wasi:http/types.incoming-response": latest_http::types::IncomingResponse,
            "wasi:http/types.incoming-body": latest_http::types::IncomingBody,
            "wasi:http/types.outgoing-request": latest_http::types::OutgoingRequest,
            "wasi:http/types.outgoing-response": latest_http::types::OutgoingResponse,
            "wasi:http/types.outgoing-body": latest_http::types::OutgoingBody,
            "wasi:http/types.response-outparam": latest_http::types::ResponseOutparam,
            "wasi:http/types.future-trailers": latest_http::types::FutureTrailers,
            "wasi:http/types.future-incoming-response": latest_http::types::FutureIncomingResponse,
            "wasi:http/types.request-options": latest_http::types::RequestOptions,
        },
        require_store_data_send: true,
    });
}
