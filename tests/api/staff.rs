//! Staff sign-in for the web pages, on both databases: PBKDF2 passwords, lock-out after five
//! failures, signed session cookies that sign-out revokes, a CSRF token per session, and the
//! `onecard users create` command.

use std::io::Write;
use std::process::Stdio;

use onecard::auth::staff::{self, StaffError};
use onecard::auth::Role;

use crate::support::TestDb;

#[test]
fn sign_in_lock_out_sessions_and_sign_out() {
    let db = TestDb::new();
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    staff::create_user(
        &mut conn,
        Role::Finance,
        "李会计",
        "晨间对账的长密码-2026",
        "test",
    )
    .expect("user");
    assert!(matches!(
        staff::create_user(
            &mut conn,
            Role::Finance,
            "李会计",
            "another long password",
            "test"
        ),
        Err(StaffError::BadName(_))
    ));
    assert!(matches!(
        staff::create_user(&mut conn, Role::Clerk, "王", "short", "test"),
        Err(StaffError::WeakPassword)
    ));
    // Unknown names and wrong passwords get the same answer.
    assert!(matches!(
        staff::sign_in(&mut conn, &ctx.keys, "nobody", "whatever password"),
        Err(StaffError::BadCredentials)
    ));
    let session =
        staff::sign_in(&mut conn, &ctx.keys, "李会计", "晨间对账的长密码-2026").expect("signed in");
    assert_eq!(session.principal.role, Role::Finance);
    let (sid, who) = staff::session(&mut conn, &ctx.keys, &session.cookie)
        .expect("lookup")
        .expect("live session");
    assert_eq!(
        (sid.as_str(), who.name.as_str()),
        (session.id.as_str(), "李会计")
    );
    // A cookie altered by one character is not a session; nor is another session's token a
    // CSRF token for this one.
    let mut forged = session.cookie.clone();
    forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
    assert!(staff::session(&mut conn, &ctx.keys, &forged)
        .expect("lookup")
        .is_none());
    let csrf = staff::csrf_token(&ctx.keys, &session.id);
    assert!(staff::csrf_ok(&ctx.keys, &session.id, &csrf));
    assert!(!staff::csrf_ok(&ctx.keys, "another-session", &csrf));
    assert!(!staff::csrf_ok(&ctx.keys, &session.id, "not-a-token"));
    // Sign-out ends it.
    staff::sign_out(&mut conn, &session.id).expect("sign out");
    assert!(staff::session(&mut conn, &ctx.keys, &session.cookie)
        .expect("lookup")
        .is_none());

    // Four wrong passwords, then the fifth locks; the right one is refused while locked.
    for _ in 0..4 {
        assert!(matches!(
            staff::sign_in(&mut conn, &ctx.keys, "李会计", "wrong password!"),
            Err(StaffError::BadCredentials)
        ));
    }
    assert!(matches!(
        staff::sign_in(&mut conn, &ctx.keys, "李会计", "wrong password!"),
        Err(StaffError::Locked(_))
    ));
    assert!(matches!(
        staff::sign_in(&mut conn, &ctx.keys, "李会计", "晨间对账的长密码-2026"),
        Err(StaffError::Locked(_))
    ));
}

#[test]
fn users_are_created_from_the_command_line() {
    let db = TestDb::new();
    let run = |password: &str, name: &str| {
        let mut child = db
            .command()
            .args(["users", "create", "--role", "supervisor", "--name", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run onecard");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
    };
    assert!(db
        .command()
        .arg("migrate")
        .status()
        .expect("migrate")
        .success());
    let out = run("a supervisor's long passphrase", "张主管");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "a password given on stdin is not printed"
    );
    let out = run("short", "赵");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));
    let ctx = db.open();
    let mut conn = ctx.conn().expect("conn");
    let s = staff::sign_in(
        &mut conn,
        &ctx.keys,
        "张主管",
        "a supervisor's long passphrase",
    )
    .expect("the new user signs in");
    assert_eq!(s.principal.role, Role::Supervisor);
}

/// Wrong passwords sent at once (from one instance's threads or several instances: the count
/// is in the database) each count: five at once lock the account, none overwrites another's
/// count with one it read before its password check.
#[test]
fn failures_at_once_each_count() {
    use diesel::prelude::*;
    use onecard::db::schema::staff_users;

    let db = TestDb::new();
    let (one, two) = (db.open(), db.open());
    {
        let mut conn = one.conn().expect("conn");
        staff::create_user_with(
            &mut conn,
            Role::Finance,
            "并发",
            "晨间对账的长密码-2026",
            "test",
            1_000,
        )
        .expect("user");
    }
    let barrier = std::sync::Barrier::new(5);
    std::thread::scope(|s| {
        for i in 0..5 {
            let ctx = if i % 2 == 0 { &one } else { &two };
            let barrier = &barrier;
            s.spawn(move || {
                let mut conn = ctx.conn().expect("conn");
                barrier.wait();
                let outcome = staff::sign_in(&mut conn, &ctx.keys, "并发", "a wrong guess here");
                assert!(
                    matches!(
                        outcome,
                        Err(StaffError::BadCredentials | StaffError::Locked(_))
                    ),
                    "{outcome:?}"
                );
            });
        }
    });
    let mut conn = one.conn().expect("conn");
    let failures: i64 = staff_users::table
        .filter(staff_users::name.eq("并发"))
        .select(staff_users::failures)
        .first(&mut conn)
        .expect("user");
    assert_eq!(failures, 5);
    assert!(matches!(
        staff::sign_in(&mut conn, &one.keys, "并发", "晨间对账的长密码-2026"),
        Err(StaffError::Locked(_))
    ));
}
