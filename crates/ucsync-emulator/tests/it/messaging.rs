//! The messaging emulator: its model against the project's schema files, and
//! what it answers over LDAP, spoken by hand with the `ldap3_proto` codec.

use std::path::Path;

use futures::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapResultCode,
    LdapSearchRequest, LdapSearchScope,
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use ucsync_emulator::messaging::{MessagingEmulator, MessagingSettings, Product};

/// The attribute and object class names an OpenLDAP schema file defines.
fn defined(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("NAME '"))
        .map(|r| r.split('\'').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn each_products_layout_is_its_schema_file() {
    for (p, file) in [
        (Product::Aura, "aura"),
        (Product::Cmm, "cmm"),
        (Product::Mm, "mm"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../ucsync-connect/data/ldap/{file}.schema"));
        let names = defined(&std::fs::read_to_string(path).unwrap());
        let l = p.layout();
        assert!(names.contains(&l.object_class.to_string()), "{file}");
        for a in l.attrs {
            // cn, sn, givenName and telephoneNumber come from core.schema.
            let core = ["cn", "sn", "givenName", "telephoneNumber"].contains(a);
            assert!(core || names.contains(&a.to_string()), "{file}: {a}");
        }
    }
}

async fn session(emu: &MessagingEmulator) -> Framed<TcpStream, LdapCodec> {
    let s = TcpStream::connect(emu.addr()).await.unwrap();
    Framed::new(s, LdapCodec::default())
}

fn bind(dn: &str, pw: &str) -> LdapMsg {
    LdapMsg {
        msgid: 1,
        op: LdapOp::BindRequest(LdapBindRequest {
            version: 3,
            dn: dn.into(),
            cred: LdapBindCred::Simple(pw.into()),
        }),
        ctrl: vec![],
    }
}

fn search(id: i32, base: &str, ctrl: Vec<LdapControl>) -> LdapMsg {
    LdapMsg {
        msgid: id,
        op: LdapOp::SearchRequest(LdapSearchRequest {
            base: base.into(),
            scope: LdapSearchScope::OneLevel,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Equality("objectClass".into(), "mmSubscriber".into()),
            attrs: vec!["numericAddress".into()],
        }),
        ctrl,
    }
}

/// Entries until the done message: (entries, result code, paged cookie).
async fn collect(s: &mut Framed<TcpStream, LdapCodec>) -> (usize, LdapResultCode, Option<Vec<u8>>) {
    let mut n = 0;
    loop {
        let m = s.next().await.unwrap().unwrap();
        match m.op {
            LdapOp::SearchResultEntry(_) => n += 1,
            LdapOp::SearchResultDone(r) => {
                let cookie = m.ctrl.into_iter().find_map(|c| match c {
                    LdapControl::SimplePagedResults { cookie, .. } => Some(cookie),
                    _ => None,
                });
                return (n, r.code, cookie);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn binds_size_limit_and_paged_results() {
    let mut settings = MessagingSettings::new(Product::Mm);
    settings.subscribers = 1234;
    let emu = ucsync_testkit::emulators::messaging(settings).await;
    let base = emu.layout().base;
    let mut s = session(&emu).await;
    s.send(bind("cn=admin", "wrong")).await.unwrap();
    match s.next().await.unwrap().unwrap().op {
        LdapOp::BindResponse(r) => assert_eq!(r.res.code, LdapResultCode::InvalidCredentials),
        other => panic!("{other:?}"),
    }
    // Unbound: nothing but the root DSE.
    s.send(search(2, base, vec![])).await.unwrap();
    assert_eq!(
        collect(&mut s).await.1,
        LdapResultCode::InsufficentAccessRights
    );
    s.send(bind("cn=admin", "admin01")).await.unwrap();
    s.next().await.unwrap().unwrap();
    // Without paging: 500, then sizeLimitExceeded, as slapd by default.
    s.send(search(3, base, vec![])).await.unwrap();
    assert_eq!(
        collect(&mut s).await,
        (500, LdapResultCode::SizeLimitExceeded, None)
    );
    // Paging: pages of 300 until the cookie is empty, every entry once.
    let (mut total, mut cookie, mut pages) = (0, Vec::new(), 0);
    loop {
        let ctrl = vec![LdapControl::SimplePagedResults {
            size: 300,
            cookie: cookie.clone(),
        }];
        s.send(search(10 + pages, base, ctrl)).await.unwrap();
        let (n, code, next) = collect(&mut s).await;
        assert_eq!(code, LdapResultCode::Success);
        total += n;
        pages += 1;
        cookie = next.unwrap();
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!((total, pages), (1234, 5));
}
