//! The lake on object storage: an S3 server (moto, from `.ci/python-env`) on 127.0.0.1; tables,
//! state commits, locks, run history and models all land in the bucket, and two concurrent
//! runs on different sources write to the same bucket with nothing lost.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{revline, text, write_config};
use revline_sandbox::{Sandbox, SandboxConfig, WorldConfig};

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn start_moto() -> Moto {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join(".ci/python-env"))
        .output()
        .expect("run .ci/python-env");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let created = http(
        port,
        "PUT /revline-lake HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    moto
}

#[test]
fn lake_on_s3_with_two_concurrent_runs() {
    let moto = start_moto();
    let sb = Sandbox::start(SandboxConfig {
        world: WorldConfig {
            people: 2_000,
            ..WorldConfig::default()
        },
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = |name: &str| {
        format!(
            "[sources.{name}]\nconnector = \"hubspot\"\nbase_url = \"{}\"\ntoken = \"{}\"\n",
            sb.hubspot_url(),
            sb.hubspot_token()
        )
    };
    let cfg = write_config(
        dir.path(),
        &format!(
            "[lake]\npath = \"s3://revline-lake/prod\"\nendpoint = \"http://127.0.0.1:{}\"\nregion = \"us-east-1\"\n\
             allow_http = true\naccess_key_id = \"test\"\nsecret_access_key = \"${{S3_SECRET}}\"\n\n{}\n{}",
            moto.port,
            source("hubspot"),
            source("crm_eu")
        ),
    );
    let spawn = |src: &str| {
        revline()
            .arg("--config")
            .arg(&cfg)
            .args(["run", "--source", src])
            .env("S3_SECRET", "test")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("hubspot");
    let b = spawn("crm_eu");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert!(
        !dir.path().join("lake").exists(),
        "nothing was written locally"
    );

    let q = |sql: &str| {
        let out = revline()
            .arg("--config")
            .arg(&cfg)
            .args(["query", sql, "--format", "csv"])
            .env("S3_SECRET", "test")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        q("SELECT _source, COUNT(*) AS n FROM hubspot.contacts GROUP BY 1 ORDER BY 1"),
        "_source,n\ncrm_eu,2000\nhubspot,2000\n",
        "the connector union holds both sources"
    );
    assert_eq!(q("SELECT COUNT(*) AS n FROM crm_eu.deals"), "n\n120\n");
    assert_eq!(
        q("SELECT source, COUNT(*) AS streams FROM _revline.runs GROUP BY 1 ORDER BY 1"),
        "source,streams\ncrm_eu,5\nhubspot,5\n",
        "both runs' history rows survived the concurrent appends\n{}\n{}",
        text(&a),
        text(&b)
    );
    // State lives in the bucket: a second run is incremental.
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--source", "hubspot"])
        .env("S3_SECRET", "test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("hubspot.contacts: 1 records (incremental)"),
        "{}",
        text(&out)
    );
    // Models build into the bucket too.
    let out = revline()
        .arg("--config")
        .arg(&cfg)
        .arg("models")
        .env("S3_SECRET", "test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        q("SELECT COUNT(*) AS n FROM stg_hubspot_contacts"),
        "n\n4000\n"
    );
    // Locks were taken and released in the bucket.
    let listing = http(
        moto.port,
        "GET /revline-lake?list-type=2&prefix=prod/_revline/locks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(
        listing.contains("prod/_revline/locks/hubspot/"),
        "{listing}"
    );
    assert!(listing.contains("prod/_revline/locks/crm_eu/"), "{listing}");
}
