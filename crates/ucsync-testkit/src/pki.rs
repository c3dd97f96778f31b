//! Certificates of a test's own (rcgen): a CA, server certificates it signs
//! or that sign themselves, as PEM and as files, with their fingerprints as
//! ucsync prints them; and a free loopback port for a server that must be
//! told its port (a daemon such as slapd or PostgreSQL).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// The names of a server on loopback.
pub const LOOPBACK_NAMES: &[&str] = &["127.0.0.1", "localhost"];

/// A certificate authority of the test's own.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    pub fn new() -> Ca {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("the CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, signed by this CA.
    pub fn sign(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().expect("a server key");
        let cert = params(names)
            .signed_by(&key, &self.issuer)
            .expect("the server certificate");
        Leaf::of(cert, key)
    }

    /// Writes its certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.pem).expect("the CA file written");
    }
}

impl Default for Ca {
    fn default() -> Ca {
        Ca::new()
    }
}

/// A server's certificate and key.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Leaf {
    /// A certificate for `names` that signs itself.
    pub fn self_signed(names: &[&str]) -> Leaf {
        let key = KeyPair::generate().expect("a server key");
        let cert = params(names).self_signed(&key).expect("the certificate");
        Leaf::of(cert, key)
    }

    fn of(cert: rcgen::Certificate, key: KeyPair) -> Leaf {
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// Its SHA-256 fingerprint as ucsync prints and pins it.
    pub fn fingerprint(&self) -> String {
        ucsync_tls::fingerprint_of(&self.der)
    }

    /// Writes the certificate to `cert` and the key to `key`.
    pub fn write(&self, cert: &Path, key: &Path) {
        std::fs::write(cert, &self.cert_pem).expect("the certificate written");
        std::fs::write(key, &self.key_pem).expect("the key written");
    }
}

fn params(names: &[&str]) -> CertificateParams {
    CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("certificate parameters")
}

/// A CA and a server certificate for `names` it signed, as `ca.pem`,
/// `cert.pem` and `key.pem` in a folder of their own.
#[derive(Debug)]
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The server certificate's fingerprint.
    pub fingerprint: String,
}

impl Pki {
    pub fn new(names: &[&str]) -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = Ca::new();
        let leaf = ca.sign(names);
        let pki = Pki {
            ca: dir.path().join("ca.pem"),
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            fingerprint: leaf.fingerprint(),
            dir,
        };
        ca.write(&pki.ca);
        leaf.write(&pki.cert, &pki.key);
        pki
    }
}

/// A loopback TCP port free a moment ago, for a server that must be told
/// its port rather than given a bound socket.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
