//! `From` conversions between rc and current types of the same shape (the
//! generated types are distinct Rust types even where the WIT is identical).

/// `enum A => B { X, Y(payload), Z[optional_payload], .. }`,
/// `struct A => B { field, .. }` and `flags A => B { FLAG, .. }`; `<=>`
/// instead of `=>` converts both ways. Payloads and fields convert with
/// `.into()`, `[..]` payloads (options) with `.map(Into::into)`.
macro_rules! convert {
    () => {};
    ($kind:ident $a:path [<=>] $b:path { $($body:tt)* } $($rest:tt)*) => {
        convert!($kind $a => $b { $($body)* });
        convert!($kind $b => $a { $($body)* });
        convert!($($rest)*);
    };
    (
        enum $from:path => $to:path { $($case:ident $(($x:ident))? $([$o:ident])?,)* }
        $($rest:tt)*
    ) => {
        impl From<$from> for $to {
            fn from(e: $from) -> Self {
                use $from as A;
                use $to as B;
                match e {
                    $(
                        A::$case $(($x))? $(($o))?
                            => B::$case $(($x.into()))? $(($o.map(Into::into)))?,
                    )*
                }
            }
        }
        convert!($($rest)*);
    };
    (struct $from:path => $to:path { $($field:ident,)* } $($rest:tt)*) => {
        impl From<$from> for $to {
            fn from(e: $from) -> Self {
                Self { $($field: e.$field.into(),)* }
            }
        }
        convert!($($rest)*);
    };
    (flags $from:path => $to:path { $($flag:ident,)* } $($rest:tt)*) => {
        impl From<$from> for $to {
            fn from(e: $from) -> Self {
                use $from as A;
                use $to as B;
                let mut out = B::empty();
                $(if e.contains(A::$flag) { out |= B::$flag; })*
                out
            }
        }
        convert!($($rest)*);
    };
}

/// Conversions of the types both rc versions share with 0.2 (`$w` is the
/// version's generated `wasi` module).
macro_rules! shared_conversions {
    ($w:ident) => {
        use $crate::host::wasi_rc::latest::clocks::wall_clock as lwall;
        use $crate::host::wasi_rc::latest::filesystem::types as lfs;
        use $crate::host::wasi_rc::latest::sockets::{network as lnet, tcp as ltcp};
        use $crate::host::wasi_rc::latest_http::types as lhttp;
        use $w::clocks::wall_clock as wall;
        use $w::filesystem::types as fs;
        use $w::http::types as rc_http;
        use $w::sockets::{network as net, tcp};

        convert! {
            struct lwall::Datetime [<=>] wall::Datetime {
                seconds, nanoseconds,
            }

            enum lfs::ErrorCode => fs::ErrorCode {
                Access, WouldBlock, Already, BadDescriptor, Busy, Deadlock, Quota, Exist,
                FileTooLarge, IllegalByteSequence, InProgress, Interrupted, Invalid, Io,
                IsDirectory, Loop, TooManyLinks, MessageSize, NameTooLong, NoDevice, NoEntry,
                NoLock, InsufficientMemory, InsufficientSpace, NotDirectory, NotEmpty,
                NotRecoverable, Unsupported, NoTty, NoSuchDevice, Overflow, NotPermitted, Pipe,
                ReadOnly, InvalidSeek, TextFileBusy, CrossDevice,
            }
            enum fs::Advice => lfs::Advice {
                Normal, Sequential, Random, WillNeed, DontNeed, NoReuse,
            }
            flags fs::DescriptorFlags [<=>] lfs::DescriptorFlags {
                READ, WRITE, FILE_INTEGRITY_SYNC, DATA_INTEGRITY_SYNC, REQUESTED_WRITE_SYNC,
                MUTATE_DIRECTORY,
            }
            enum lfs::DescriptorType => fs::DescriptorType {
                Unknown, BlockDevice, CharacterDevice, Directory, Fifo, SymbolicLink,
                RegularFile, Socket,
            }
            enum fs::NewTimestamp => lfs::NewTimestamp {
                NoChange, Now, Timestamp(t),
            }
            flags fs::PathFlags => lfs::PathFlags {
                SYMLINK_FOLLOW,
            }
            flags fs::OpenFlags => lfs::OpenFlags {
                CREATE, DIRECTORY, EXCLUSIVE, TRUNCATE,
            }
            struct lfs::MetadataHashValue => fs::MetadataHashValue {
                lower, upper,
            }
            struct lfs::DirectoryEntry => fs::DirectoryEntry {
                type_, name,
            }

            enum lnet::ErrorCode => net::ErrorCode {
                Unknown, AccessDenied, NotSupported, InvalidArgument, OutOfMemory, Timeout,
                ConcurrencyConflict, NotInProgress, WouldBlock, InvalidState, NewSocketLimit,
                AddressNotBindable, AddressInUse, RemoteUnreachable, ConnectionRefused,
                ConnectionReset, ConnectionAborted, DatagramTooLarge, NameUnresolvable,
                TemporaryResolverFailure, PermanentResolverFailure,
            }
            enum lnet::IpAddress [<=>] net::IpAddress {
                Ipv4(a), Ipv6(a),
            }
            enum lnet::IpSocketAddress [<=>] net::IpSocketAddress {
                Ipv4(a), Ipv6(a),
            }
            struct lnet::Ipv4SocketAddress [<=>] net::Ipv4SocketAddress {
                port, address,
            }
            struct lnet::Ipv6SocketAddress [<=>] net::Ipv6SocketAddress {
                port, flow_info, address, scope_id,
            }
            enum lnet::IpAddressFamily [<=>] net::IpAddressFamily {
                Ipv4, Ipv6,
            }
            enum tcp::ShutdownType => ltcp::ShutdownType {
                Receive, Send, Both,
            }

            enum lhttp::Method [<=>] rc_http::Method {
                Get, Head, Post, Put, Delete, Connect, Options, Trace, Patch, Other(s),
            }
            enum lhttp::Scheme [<=>] rc_http::Scheme {
                Http, Https, Other(s),
            }
        }

        impl From<lfs::DescriptorStat> for fs::DescriptorStat {
            fn from(s: lfs::DescriptorStat) -> Self {
                Self {
                    type_: s.type_.into(),
                    link_count: s.link_count,
                    size: s.size,
                    data_access_timestamp: s.data_access_timestamp.map(Into::into),
                    data_modification_timestamp: s.data_modification_timestamp.map(Into::into),
                    status_change_timestamp: s.status_change_timestamp.map(Into::into),
                }
            }
        }
    };
}

/// rc-2023-11-10's `error-code` and `header-error`, identical to 0.2.0's.
macro_rules! http_error_conversions {
    ($w:ident) => {
        use $crate::host::wasi_rc::latest_http::types as l;
        use $w::http::types as rc;

        convert! {
            struct l::DnsErrorPayload [<=>] rc::DnsErrorPayload {
                rcode, info_code,
            }
            struct l::TlsAlertReceivedPayload [<=>] rc::TlsAlertReceivedPayload {
                alert_id, alert_message,
            }
            struct l::FieldSizePayload [<=>] rc::FieldSizePayload {
                field_name, field_size,
            }
            enum l::HeaderError => rc::HeaderError {
                InvalidSyntax, Forbidden, Immutable,
            }
            enum l::ErrorCode [<=>] rc::ErrorCode {
                DnsTimeout, DnsError(p), DestinationNotFound, DestinationUnavailable,
                DestinationIpProhibited, DestinationIpUnroutable, ConnectionRefused,
                ConnectionTerminated, ConnectionTimeout, ConnectionReadTimeout,
                ConnectionWriteTimeout, ConnectionLimitReached, TlsProtocolError,
                TlsCertificateError, TlsAlertReceived(p), HttpRequestDenied,
                HttpRequestLengthRequired, HttpRequestBodySize(n), HttpRequestMethodInvalid,
                HttpRequestUriInvalid, HttpRequestUriTooLong, HttpRequestHeaderSectionSize(n),
                HttpRequestHeaderSize[p], HttpRequestTrailerSectionSize(n),
                HttpRequestTrailerSize(p), HttpResponseIncomplete,
                HttpResponseHeaderSectionSize(n), HttpResponseHeaderSize(p),
                HttpResponseBodySize(n), HttpResponseTrailerSectionSize(n),
                HttpResponseTrailerSize(p), HttpResponseTransferCoding(s),
                HttpResponseContentCoding(s), HttpResponseTimeout, HttpUpgradeFailed,
                HttpProtocolError, LoopDetected, ConfigurationError, InternalError(s),
            }
        }
    };
}
