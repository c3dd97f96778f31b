//! The messaging connector against a real OpenLDAP `slapd`, holding the
//! project's schema files and more subscribers than slapd's default size
//! limit (500): only a client that pages reads them all. Under `CI=true` a
//! missing slapd fails; elsewhere these tests skip, saying so.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Mod, Scope};
use ucsync_core::{JobState, SyncType};
use ucsync_emulator::messaging::Product;
use ucsync_store::ElementSettings;

use crate::Rig;
use ucsync_testkit::emulators::{LDAP_PASSWORD as PW, admin_dn, own_dn};

use crate::messaging::{add_element, kind_of};

const ENTRIES: usize = 600;

/// slapd, or why the test is skipped (a failure under CI).
fn slapd_or_skip() -> Option<PathBuf> {
    ucsync_testkit::require_tool(
        "slapd",
        "apt-get install slapd; .ci/run installs it, without it the real-LDAP tests do not run",
    )
}

/// A running slapd in its own temporary directory; killed on drop.
struct Slapd {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn schema_file(product: Product) -> PathBuf {
    let name = match product {
        Product::Aura => "aura",
        Product::Cmm => "cmm",
        Product::Mm => "mm",
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ucsync-connect/data/ldap/{name}.schema"))
}

/// The subscribers the test loads: key -> (attribute, value).
fn seed(product: Product) -> BTreeMap<String, Vec<(&'static str, String)>> {
    let layout = product.layout();
    (0..ENTRIES)
        .map(|n| {
            let k = (3_000_000 + n).to_string();
            let mut a = vec![
                (layout.key, k.clone()),
                ("cn", format!("Person {n}")),
                ("communityID", "1".into()),
                ("subscriberPassword", "4711".into()),
            ];
            match product {
                Product::Aura => a.extend([("sn", format!("Last{n}")), ("extension", k.clone())]),
                Product::Cmm => a.extend([
                    ("sn", format!("Last{n}")),
                    ("subscriberName", format!("Last{n},First")),
                ]),
                Product::Mm => a.push(("pbxExtension", k.clone())),
            }
            (k, a)
        })
        .collect()
}

fn ldif(product: Product) -> String {
    let l = product.layout();
    let org = l.suffix.trim_start_matches("o=");
    let mut out = format!(
        "dn: {}\nobjectClass: organization\no: {org}\n\ndn: {}\nobjectClass: organizationalUnit\nou: subscribers\n\n\
         dn: {}\nobjectClass: person\ncn: ucsync\nsn: ucsync\nuserPassword: {PW}\n\n",
        l.suffix,
        l.base,
        own_dn(l.suffix)
    );
    for (k, attrs) in seed(product) {
        out.push_str(&format!(
            "dn: {}={k},{}\nobjectClass: {}\n",
            l.key, l.base, l.object_class
        ));
        for (a, v) in attrs {
            out.push_str(&format!("{a}: {v}\n"));
        }
        out.push('\n');
    }
    out
}

fn start(bin: &Path, product: Product) -> Slapd {
    let dir = tempfile::tempdir().unwrap();
    let l = product.layout();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    let core = [
        "/etc/ldap/schema/core.schema",
        "/etc/openldap/schema/core.schema",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("slapd's core.schema");
    let modules = [
        "/usr/lib/ldap",
        "/usr/lib/x86_64-linux-gnu/ldap",
        "/usr/lib/aarch64-linux-gnu/ldap",
    ]
    .into_iter()
    .find(|p| {
        Path::new(p).join("back_mdb.la").exists() || Path::new(p).join("back_mdb.so").exists()
    });
    let module = modules
        .map(|m| format!("modulepath {m}\nmoduleload back_mdb\n"))
        .unwrap_or_default();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include {core}\ninclude {schema}\npidfile {dir}/slapd.pid\n{module}\
             sizelimit size.soft=500 size.hard=unlimited\n\
             database mdb\nsuffix \"{suffix}\"\nrootdn \"{root}\"\nrootpw {PW}\ndirectory {db}\nmaxsize 104857600\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by dn.exact=\"{own}\" write by * none\n",
            schema = schema_file(product).display(),
            dir = dir.path().display(),
            suffix = l.suffix,
            root = admin_dn(l.suffix),
            db = db.display(),
            own = own_dn(l.suffix),
        ),
    )
    .unwrap();
    let seed = dir.path().join("seed.ldif");
    std::fs::write(&seed, ldif(product)).unwrap();
    let slapadd = bin.with_file_name("slapadd");
    let added = Command::new(if slapadd.exists() {
        slapadd
    } else {
        PathBuf::from("slapadd")
    })
    .args(["-f", conf.to_str().unwrap(), "-l", seed.to_str().unwrap()])
    .output()
    .expect("slapadd");
    assert!(
        added.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    // A port that was free a moment ago; slapd is given a few tries.
    for _ in 0..5 {
        let port = ucsync_testkit::pki::free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let mut child = Command::new(bin)
            .args([
                "-f",
                conf.to_str().unwrap(),
                "-h",
                &format!("{url}/"),
                "-d",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("slapd starts");
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Slapd {
                    child,
                    url,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("slapd did not start");
}

async fn bind(url: &str, dn: &str) -> ldap3::Ldap {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dn, PW).await.unwrap().success().unwrap();
    ldap
}

/// Everything in the directory as ucsync's catalog maps it: key -> fields.
async fn in_slapd(
    url: &str,
    product: Product,
    link: Option<&str>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mapping = ucsync_connect::messaging::catalog::Catalog::builtin();
    let p = mapping.by_kind(kind_of(product)).unwrap();
    let mut ldap = bind(url, &admin_dn(product.layout().suffix)).await;
    // As the root DN, which no size limit binds.
    let (entries, _) = ldap
        .search(
            product.layout().base,
            Scope::OneLevel,
            &p.filter(),
            vec!["*"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    entries
        .into_iter()
        .map(|e| {
            let e = ldap3::SearchEntry::construct(e);
            let mut fields: Vec<(String, String)> = e
                .attrs
                .iter()
                .filter_map(|(a, v)| Some((p.field_of(a)?.to_string(), v.join("\n"))))
                .collect();
            if let (Some(cm), Some(ext)) = (
                link,
                e.attrs
                    .iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(&p.station)),
            ) {
                fields.push(("cm".into(), cm.into()));
                fields.push(("station".into(), ext.1[0].clone()));
            }
            fields.sort();
            let key = e
                .attrs
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&p.key))
                .unwrap()
                .1[0]
                .clone();
            (key, fields)
        })
        .collect()
}

async fn subscribers(rig: &Rig, name: &str) -> BTreeMap<String, Vec<(String, String)>> {
    crate::sync::stored(rig.store.as_ref(), &rig.secret, name)
        .await
        .remove("subscriber")
        .unwrap_or_default()
}

/// Init, incremental (add, modify, delete) and force-init of one product.
async fn scenario(bin: &Path, product: Product) {
    let slapd = start(bin, product);
    let l = product.layout();
    let port: u16 = slapd.url.rsplit(':').next().unwrap().parse().unwrap();
    // slapd's size limit (500, the soft limit a client gets unless it pages;
    // the hard limit, which a paged search may reach, lifted as a directory
    // that serves paging clients has it) holds for ucsync's bind DN: a search
    // without paging stops at 500.
    let mut own = bind(&slapd.url, &own_dn(l.suffix)).await;
    let plain = own
        .search(
            l.base,
            Scope::OneLevel,
            &format!("(objectClass={})", l.object_class),
            vec!["cn"],
        )
        .await
        .unwrap();
    assert_eq!(
        (plain.1.rc, plain.0.len()),
        (4, 500),
        "sizeLimitExceeded after 500 entries"
    );
    let rig = Rig::new(4).await;
    let (link, settings) = if product == Product::Cmm {
        rig.add_element_only("cm1", 1).await;
        (
            Some("cm1"),
            ElementSettings {
                cm: Some("cm1".into()),
                ..Default::default()
            },
        )
    } else {
        (None, ElementSettings::default())
    };
    add_element(
        &rig,
        "msg1",
        kind_of(product),
        port,
        own_dn(l.suffix),
        settings,
    )
    .await;
    let init = rig.sync("msg1", SyncType::Init).await;
    assert_eq!(
        (init.state, init.counts.added),
        (JobState::Succeeded, ENTRIES as u64),
        "{product:?}: {:?}",
        init.error
    );
    assert_eq!(
        subscribers(&rig, "msg1").await,
        in_slapd(&slapd.url, product, link).await
    );
    assert!(init.error.is_none());
    // The administrator changes the directory.
    let mut admin = bind(&slapd.url, &admin_dn(l.suffix)).await;
    let mut attrs: Vec<(&str, HashSet<&str>)> = vec![
        ("objectClass", HashSet::from([l.object_class])),
        (l.key, HashSet::from(["3999999"])),
        ("cn", HashSet::from(["Added Later"])),
    ];
    match product {
        Product::Aura => attrs.push(("sn", HashSet::from(["Later"]))),
        Product::Cmm => {
            attrs.push(("sn", HashSet::from(["Later"])));
            attrs.push(("subscriberName", HashSet::from(["Later,Added"])));
        }
        Product::Mm => {}
    }
    admin
        .add(&format!("{}=3999999,{}", l.key, l.base), attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    for k in ["3000001", "3000502"] {
        let m = vec![Mod::Replace("communityID", HashSet::from(["7"]))];
        admin
            .modify(&format!("{}={k},{}", l.key, l.base), m)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    admin
        .delete(&format!("{}=3000003,{}", l.key, l.base))
        .await
        .unwrap()
        .success()
        .unwrap();
    let inc = rig.sync("msg1", SyncType::Incremental).await;
    assert_eq!(
        (inc.sync_type, inc.state),
        (SyncType::Incremental, JobState::Succeeded),
        "{product:?}: {:?}",
        inc.error
    );
    assert_eq!(
        (inc.counts.added, inc.counts.changed, inc.counts.deleted),
        (1, 2, 1),
        "{product:?}"
    );
    assert_eq!(
        subscribers(&rig, "msg1").await,
        in_slapd(&slapd.url, product, link).await
    );
    // A quarter gone: the incremental becomes an init, which refuses; force-init applies it.
    for n in 100..250 {
        admin
            .delete(&format!("{}={},{}", l.key, 3_000_000 + n, l.base))
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let refused = rig.sync("msg1", SyncType::Incremental).await;
    assert_eq!(
        (refused.sync_type, refused.state),
        (SyncType::Init, JobState::Failed),
        "{product:?}"
    );
    assert_eq!(
        subscribers(&rig, "msg1").await.len(),
        ENTRIES,
        "nothing changed"
    );
    let force = rig.sync("msg1", SyncType::ForceInit).await;
    assert_eq!(
        (force.state, force.counts.deleted),
        (JobState::Succeeded, 150)
    );
    assert_eq!(
        subscribers(&rig, "msg1").await,
        in_slapd(&slapd.url, product, link).await
    );
}

#[tokio::test]
async fn real_slapd_aura_messaging_init_incremental_and_force_init() {
    if let Some(bin) = slapd_or_skip() {
        scenario(&bin, Product::Aura).await;
    }
}

#[tokio::test]
async fn real_slapd_cm_messaging_init_incremental_and_force_init() {
    if let Some(bin) = slapd_or_skip() {
        scenario(&bin, Product::Cmm).await;
    }
}

#[tokio::test]
async fn real_slapd_modular_messaging_init_incremental_and_force_init() {
    if let Some(bin) = slapd_or_skip() {
        scenario(&bin, Product::Mm).await;
    }
}
