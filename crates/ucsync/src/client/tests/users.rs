//! `ucsync user`: its arguments, where a new password comes from, its
//! table; then the console's first `admin` user as `serve` makes it, and
//! the subcommands against a real service in-process.

use ucsync::serve::{Listeners, Service, Settings};
use ucsync_api::model::UserPage;
use ucsync_core::{Password, Role};

use super::*;
use crate::client::user::{self, UserCmd};

fn user_cmd(args: &[&str]) -> UserCmd {
    match parse(args) {
        Command::User { cmd, .. } => cmd,
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_arguments_are_checked_by_clap() {
    let UserCmd::Add { name, role, .. } =
        user_cmd(&["user", "add", "jsmith", "--role", "read-only"])
    else {
        panic!()
    };
    assert_eq!((name.as_str(), role), ("jsmith", Role::ReadOnly));
    let UserCmd::List { output, .. } = user_cmd(&["user", "list", "--output", "json"]) else {
        panic!()
    };
    assert_eq!(output.output, ListOutput::Json);
    assert!(matches!(
        user_cmd(&["user", "passwd", "jsmith"]),
        UserCmd::Passwd { name } if name == "jsmith"
    ));
    assert!(matches!(
        user_cmd(&["user", "remove", "jsmith", "--server", "http://h:1"]),
        UserCmd::Remove { name } if name == "jsmith"
    ));
    parse_err(&["user", "add", "jsmith"]);
    parse_err(&["user", "add", "jsmith", "--role", "root"]);
    // Never on the command line, where `ps` and the shell's history see it.
    parse_err(&[
        "user",
        "add",
        "jsmith",
        "--role",
        "admin",
        "--password",
        "x",
    ]);
    parse_err(&["user", "passwd", "jsmith", "secret-password"]);
}

#[test]
fn a_new_password_comes_from_the_environment_or_twice_from_the_terminal() {
    let never = |_: &str| -> std::io::Result<String> { panic!("nothing is asked") };
    let p = user::new_password(Some("from the environment".into()), false, "j", never).unwrap();
    assert_eq!(p.expose(), "from the environment");

    let e = user::new_password(None, false, "j", never).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert!(
        e.error.to_string().contains("UCSYNC_USER_PASSWORD"),
        "{}",
        e.error
    );

    let mut prompts = Vec::new();
    let p = user::new_password(None, true, "jsmith", |prompt: &str| {
        prompts.push(prompt.to_string());
        Ok("typed twice alike".into())
    })
    .unwrap();
    assert_eq!(p.expose(), "typed twice alike");
    assert_eq!(prompts.len(), 2);
    assert!(prompts[0].contains("jsmith"), "{prompts:?}");

    let mut answers = ["one password".to_string(), "another one".to_string()].into_iter();
    let e = user::new_password(None, true, "j", |_: &str| Ok(answers.next().unwrap())).unwrap_err();
    assert_eq!(e.code, crate::FAILED);
    assert!(e.error.to_string().contains("differ"), "{}", e.error);
}

#[test]
fn a_short_password_is_refused_before_anything_is_sent() {
    let e = user::add_body("j".into(), Role::Admin, Password::new("too short")).unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert!(e.error.to_string().contains("12"), "{}", e.error);
    let e = user::add_body(
        "j smith".into(),
        Role::Admin,
        Password::new("long enough now"),
    )
    .unwrap_err();
    assert_eq!(e.code, crate::BAD_INPUT);
    assert_eq!(
        user::passwd_patch(Password::new("too short"))
            .unwrap_err()
            .code,
        crate::BAD_INPUT
    );
    let body = user::add_body("j".into(), Role::Admin, Password::new("long enough now")).unwrap();
    assert_eq!(
        to_json(&body),
        json!({"name": "j", "role": "admin", "password": "long enough now"})
    );
    assert_eq!(
        to_json(&user::passwd_patch(Password::new("long enough now")).unwrap()),
        json!({"password": "long enough now"}),
        "the role is left as it is"
    );
}

#[test]
fn user_table() {
    let users: UserPage = serde_json::from_value(json!({
        "items": [
            {"name": "admin", "role": "admin", "created_at": "2025-03-01T09:00:00Z",
             "last_sign_in_at": "2025-03-01T10:00:00Z"},
            {"name": "jsmith", "role": "read-only", "created_at": "2025-03-01T09:30:00Z",
             "last_sign_in_at": null}
        ],
        "offset": 0, "limit": 50, "total": 2
    }))
    .unwrap();
    insta::assert_snapshot!("users", user::list_table(&users));
}

async fn start(data_dir: &std::path::Path) -> Service {
    let settings = Settings {
        data_dir: data_dir.to_path_buf(),
        ..Settings::default()
    };
    let listeners = Listeners::loopback().await.unwrap();
    Service::start(settings, listeners, Default::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_makes_the_admin_user_and_the_cli_administers_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let service = start(&data).await;
    let file = data.join("admin.password");
    assert_eq!(service.admin_password_file, file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }
    let written = std::fs::read_to_string(&file).unwrap();
    let password = written.trim();
    assert_eq!(password.chars().count(), 20, "{password:?}");
    let store = service.runner.store().clone();
    let (admin, hash) = store.user_sign_in("admin").await.unwrap().unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(ucsync_api::password::verify(&hash, password));

    // The CLI, with the admin token `serve` wrote beside it.
    let (token, source) = find_token(None, &service.data_dir).unwrap();
    let c = ApiClient::new(&format!("http://{}", service.http_addr), token, source).unwrap();
    let body = user::add_body(
        "jsmith".into(),
        Role::ReadOnly,
        Password::new("twelve chars"),
    )
    .unwrap();
    user::add(&c, &body, Output::Table).await.unwrap();
    let code = |r: Result<(), crate::Exit>| r.map_err(|e| e.code).unwrap_err();
    assert_eq!(
        code(user::add(&c, &body, Output::Json).await),
        crate::FAILED,
        "409: the name is taken"
    );
    user::run(&c, user_cmd(&["user", "list", "--output", "json"]))
        .await
        .unwrap();
    let users: UserPage = c.get(&["users"], &[]).await.unwrap();
    let names: Vec<&str> = users.items.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["admin", "jsmith"]);

    let patch = user::passwd_patch(Password::new("another password")).unwrap();
    user::passwd(&c, "jsmith", &patch).await.unwrap();
    let (_, hash) = store.user_sign_in("jsmith").await.unwrap().unwrap();
    assert!(ucsync_api::password::verify(&hash, "another password"));
    assert_eq!(
        code(user::passwd(&c, "nobody", &patch).await),
        crate::FAILED
    );

    assert_eq!(
        code(user::remove(&c, "admin").await),
        crate::FAILED,
        "409: the last admin user stays"
    );
    user::remove(&c, "jsmith").await.unwrap();
    assert_eq!(code(user::remove(&c, "jsmith").await), crate::FAILED);
    service.stop().await;

    // A second start keeps the user and its file as they are.
    let service = start(&data).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    let (_, hash) = service
        .runner
        .store()
        .user_sign_in("admin")
        .await
        .unwrap()
        .unwrap();
    assert!(ucsync_api::password::verify(&hash, password));
    service.stop().await;
}
