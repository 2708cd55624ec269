//! HTTPS beside HTTP on the same port: a connection whose first byte opens a TLS handshake is
//! served over TLS. At start the emulator makes a small certificate authority and a server
//! certificate for 127.0.0.1, localhost and the instance host signed by it. Clients that build `https://` URLs
//! themselves (simple-salesforce) then work once told to trust [`Tls::cert_pem`], the
//! authority (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`): OpenSSL, unlike rustls, does not take
//! a self-signed server certificate as its own trust anchor.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS record carrying a handshake.
pub const HANDSHAKE: u8 = 0x16;

pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The authority's certificate, PEM-encoded, for clients to trust.
    pub cert_pem: String,
}

impl Tls {
    /// `instance_host`: a name the server certificate covers beside 127.0.0.1 and localhost.
    pub fn self_signed(instance_host: &str) -> io::Result<Tls> {
        let mut authority =
            CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        authority
            .distinguished_name
            .push(DnType::CommonName, "cloudcx-shim emulator local CA");
        authority.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        authority.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let authority_key = KeyPair::generate().map_err(io::Error::other)?;
        let authority = authority
            .self_signed(&authority_key)
            .map_err(io::Error::other)?;

        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        if !names.iter().any(|n| n == instance_host) {
            names.push(instance_host.to_string());
        }
        let mut server = CertificateParams::new(names).map_err(io::Error::other)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.use_authority_key_identifier_extension = true;
        let server_key = KeyPair::generate().map_err(io::Error::other)?;
        let server = server
            .signed_by(&server_key, &authority, &authority_key)
            .map_err(io::Error::other)?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let chain = vec![
            CertificateDer::from(server.der().to_vec()),
            CertificateDer::from(authority.der().to_vec()),
        ];
        // An explicit provider: the process default is ambiguous when several are compiled in.
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(io::Error::other)?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_pem: authority.pem(),
        })
    }
}
