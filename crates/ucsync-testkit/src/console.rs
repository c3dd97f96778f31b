//! The console as a browser without script uses it: a user signed in with
//! the session cookie, pages read as HTML, forms posted with the form token
//! of the page they came from.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use ucsync_core::Role;

use crate::App;

/// A page the console answered.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// Where a redirect sends the browser.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The value of the first `<input name="NAME" value="…">` of the page.
    pub fn input(&self, name: &str) -> Option<String> {
        let before = format!("name=\"{name}\" value=\"");
        let at = self.html.find(&before)?;
        let rest = &self.html[at + before.len()..];
        Some(rest[..rest.find('"')?].to_string())
    }

    /// The page's form token.
    pub fn csrf(&self) -> String {
        self.input("csrf")
            .unwrap_or_else(|| panic!("no form token on the page: {}", self.html))
    }

    pub fn has(&self, text: &str) -> bool {
        self.html.contains(text)
    }

    /// The page with what changes from run to run (form tokens, times,
    /// ports) replaced, for snapshots.
    pub fn stable(&self) -> String {
        let mut html = self.html.clone();
        if let Some(csrf) = self.input("csrf") {
            html = html.replace(&csrf, "[csrf]");
        }
        // `dddd-dd-dd dd:dd`, and its seconds when it has them.
        let digits =
            |s: &[u8], at: &[usize]| at.iter().all(|&i| s.get(i).is_some_and(u8::is_ascii_digit));
        let b = html.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            let time = digits(&b[i..], &[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15])
                && b[i + 4] == b'-'
                && b[i + 10] == b' '
                && b[i + 13] == b':';
            if time {
                let with_seconds = b.get(i + 16) == Some(&b':') && digits(&b[i..], &[17, 18]);
                out.push_str("[time]");
                i += if with_seconds { 19 } else { 16 };
            } else if b[i..].starts_with(b"127.0.0.1:") {
                out.push_str("127.0.0.1:[port]");
                i += 10;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            } else {
                let c = html[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
        out
    }
}

/// A browser's cookie jar and its requests; redirects are not followed, so
/// tests see them.
#[derive(Debug)]
pub struct Console {
    url: String,
    client: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Console {
    /// A browser with no cookie yet.
    pub fn new(app: &App) -> Console {
        Console::from_address(app, std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// A browser on another loopback address (`127.0.0.x`).
    pub fn from_address(app: &App, addr: std::net::IpAddr) -> Console {
        Console {
            url: app.url.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(addr)
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    /// A browser signed in as `name`.
    pub async fn signed_in(app: &App, name: &str, password: &str) -> Console {
        let c = Console::new(app);
        let page = c.sign_in(name, password).await;
        assert_eq!(page.status, 303, "signing in as {name}: {}", page.html);
        c
    }

    /// Fills in and sends the sign-in form.
    pub async fn sign_in(&self, name: &str, password: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.html);
        let csrf = form.csrf();
        self.post(
            "/sign-in",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, headers: &HeaderMap) {
        let mut jar = self.cookies.lock().unwrap();
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || v.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    /// Forgets the cookies: a browser closed.
    pub fn forget(&self) {
        self.cookies.lock().unwrap().clear();
    }

    /// Sets a cookie by hand (a test of what a stale or forged one does).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let resp = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(resp.headers());
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            html: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.url)))
            .await
    }

    /// A GET with one more request header.
    pub async fn send_with(&self, path: &str, name: &str, value: &str) -> Page {
        self.send(
            self.client
                .get(format!("{}{path}", self.url))
                .header(name, value),
        )
        .await
    }

    /// Posts a form (URL-encoded) as it is, token and all.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.send(self.client.post(format!("{}{path}", self.url)).form(fields))
            .await
    }

    /// Posts a form as `multipart/form-data` (a form with a file), each
    /// of `files` as `(field, file name, content)`.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str)],
    ) -> Page {
        let boundary = "ucsync-testkit-boundary-7d1c";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        for (name, file, content) in files {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.send(
            self.client
                .post(format!("{}{path}", self.url))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await
    }

    /// Reads `page` for its form token, then posts `fields` and `files`
    /// to `action` with it as `multipart/form-data`.
    pub async fn upload(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str)],
    ) -> Page {
        let form = self.get(page).await;
        assert_eq!(form.status, 200, "{page}: {}", form.html);
        let csrf = form.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_multipart(action, &all, files).await
    }

    /// Reads `page` for its form token, then posts `fields` to `action`
    /// with it, as a browser submits a form of that page.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let form = self.get(page).await;
        assert_eq!(form.status, 200, "{page}: {}", form.html);
        let csrf = form.csrf();
        let mut all = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post(action, &all).await
    }
}

impl App {
    /// Adds a console user with a password, straight in the store.
    pub async fn add_user(&self, name: &str, role: Role, password: &str) {
        let hash = ucsync_api::password::hash(password);
        self.store.add_user(name, role, &hash).await.unwrap();
    }

    /// An admin and a read-only user, each signed in.
    pub async fn consoles(&self) -> (Console, Console) {
        self.add_user("ada", Role::Admin, "ada's long password")
            .await;
        self.add_user("rex", Role::ReadOnly, "rex's long password")
            .await;
        (
            Console::signed_in(self, "ada", "ada's long password").await,
            Console::signed_in(self, "rex", "rex's long password").await,
        )
    }
}
