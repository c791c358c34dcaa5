//! `pg_dump -Fc` archives written by a real PostgreSQL: a throwaway cluster
//! (Debian's `postgresql` server, which `scripts/test.sh` installs) is
//! started in a temp directory on a Unix socket, a database with card
//! numbers in text, numeric and multi-line columns and in a large object is
//! dumped, and panscrub's scan, scrub and the restore of the scrubbed dump
//! into the same server are checked with `pg_restore` and `psql`.

use super::*;

/// A PostgreSQL cluster for one test, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let Some(bin) = server_bin() else {
            if std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_some() {
                panic!("PostgreSQL's server is required (scripts/test.sh installs postgresql)");
            }
            eprintln!("skipped: no PostgreSQL server under /usr/lib/postgresql");
            return None;
        };
        let dir = tmp();
        // The server refuses to run as root: as root, it runs as nobody.
        if is_root() {
            Command::new("chown")
                .args(["-R", "65534:65534", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
        }
        let c = Cluster { bin, dir };
        let data = c.dir.path().join("data");
        c.server(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        let opts = format!("-k {} -c listen_addresses=''", c.dir.path().display());
        let log = c.dir.path().join("log");
        c.server(&[
            "pg_ctl",
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ]);
        Some(c)
    }

    /// Runs a server program (as nobody when root), which must succeed.
    fn server(&self, args: &[&str]) -> Output {
        let prog = self.bin.join(args[0]);
        let o = if is_root() {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&prog)
                .args(&args[1..])
                .current_dir(self.dir.path())
                .output()
        } else {
            Command::new(&prog).args(&args[1..]).output()
        }
        .expect("run a PostgreSQL program");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    /// Runs a client program against the cluster, which must succeed.
    fn client(&self, prog: &str, args: &[&str]) -> String {
        let o = Command::new(self.bin.join(prog))
            .args(["-h", self.dir.path().to_str().unwrap(), "-U", "postgres"])
            .args(args)
            .output()
            .expect("run a PostgreSQL client");
        assert!(
            o.status.success(),
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn sql(&self, db: &str, sql: &str) -> String {
        self.client(
            "psql",
            &["-d", db, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server(&[
                "pg_ctl",
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
        }));
    }
}

#[test]
fn pg_dump_archives_are_located_scrubbed_and_restore() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    pg.sql("postgres", "create database shop");
    pg.sql(
        "shop",
        "create table payments (id int primary key, card text, card_num bigint, note text);
         insert into payments values
           (1, '4111111111111111', null, 'first'),
           (2, 'none', 5555555555554444, E'Card:\\n4111 1111 1111 1111\\nthanks'),
           (3, 'x', null, 'paid with 378282246310005 ok');
         insert into payments select g, 'ref' || g, g, 'filler row ' || g from generate_series(4, 3000) g;
         create table \"Odd Name\" (k text);
         insert into \"Odd Name\" values ('card 6011111111111117');
         select lo_from_bytea(0, 'scanned form, card 5105105105105100'::bytea);",
    );
    let d = tmp();
    let dump = d.path().join("shop.dump");
    pg.client("pg_dump", &["-Fc", "-f", dump.to_str().unwrap(), "shop"]);
    let original = fs::read(&dump).unwrap();

    // Scan: each finding located by table, row and column.
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("scan stdout", &o.stdout);
    let man = manifest(&m);
    let mut got: Vec<String> = kind(&man, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}",
                f["member"].as_str().unwrap(),
                f["row"],
                f["field"].as_str().unwrap_or("-"),
                f["masked"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    let lo = got.iter().find(|g| g.starts_with("large object")).cloned();
    assert!(lo.is_some(), "{got:?}");
    got.retain(|g| !g.starts_with("large object"));
    assert_eq!(
        got,
        vec![
            "public.Odd Name 1 k 601111******1117",
            "public.payments 1 card 411111******1111",
            "public.payments 2 card_num 5555550000004444",
            "public.payments 2 note 411111******1111",
            "public.payments 3 note 378282*****0005",
        ]
    );
    assert_eq!(kind(&man, "file")[0]["format"], "pg_dump");
    let number = kind(&man, "finding")
        .into_iter()
        .find(|f| f["field"] == "card_num")
        .unwrap();
    assert_eq!(number["masked_as"], "number");

    // The path of a dump with more findings than a run keeps in memory
    // (each pass scans again, on a thread beside the rebuild), taken here
    // through the test hook on a copy: it must give the same bytes and the
    // same records as the scrub below.
    let copy = d.path().join("again.dump");
    fs::copy(&dump, &copy).unwrap();
    let m_again = mpath();
    let o = Command::new(BIN)
        .env("PANSCRUB_TEST_HELD_FINDINGS", "0")
        .args([
            "scrub",
            "-m",
            m_again.to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&o, 1);

    // Scrub: the tables are masked, the large object is left and said so.
    let m = mpath();
    let o = panscrub(&["scrub", "-m", m.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("scrub stderr", &o.stderr);
    let man = manifest(&m);
    assert_eq!(fs::read(&copy).unwrap(), fs::read(&dump).unwrap());
    let records = |man: &[Value]| -> Vec<String> {
        kind(man, "finding")
            .iter()
            .map(|f| {
                let mut f = (*f).clone();
                f.as_object_mut().unwrap().remove("path");
                f.to_string()
            })
            .collect()
    };
    assert_eq!(records(&manifest(&m_again)), records(&man));
    let actions: Vec<(&str, &str)> = kind(&man, "finding")
        .iter()
        .map(|f| (f["member"].as_str().unwrap(), f["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions.iter().filter(|a| a.1 == "truncated").count(), 5);
    assert!(actions
        .iter()
        .all(|a| (a.1 == "reported") == a.0.starts_with("large object")));
    assert_ne!(fs::read(&dump).unwrap(), original);

    // pg_restore reads it, and it restores into a real database.
    let list = pg.client("pg_restore", &["--list", dump.to_str().unwrap()]);
    assert!(list.contains("TABLE DATA public payments"), "{list}");
    pg.sql("postgres", "create database restored");
    pg.client(
        "pg_restore",
        &["-d", "restored", "--exit-on-error", dump.to_str().unwrap()],
    );
    let rows = pg.sql(
        "restored",
        "select id, card, card_num, note from payments where id <= 3 order by id",
    );
    assert_no_pan("restored rows", rows.as_bytes());
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines[0], "1|411111******1111||first");
    // The bigint column holds a number again, no longer a card number.
    let num = lines[1].split('|').nth(2).unwrap();
    assert!(
        num.len() == 16 && num.starts_with("555555") && num.ends_with("4444"),
        "{rows}"
    );
    assert!(
        rows.contains("Card:\n4111 11** **** 1111\nthanks"),
        "{rows}"
    );
    assert!(rows.contains("paid with 378282*****0005 ok"), "{rows}");
    assert_eq!(
        pg.sql("restored", "select count(*) from payments").trim(),
        "3000"
    );
    assert_eq!(
        pg.sql("restored", "select k from \"Odd Name\"").trim(),
        "card 601111******1117"
    );
    // What was left in place is still there, unchanged.
    let lo = pg.sql(
        "restored",
        "select convert_from(lo_get(oid), 'UTF8') from pg_largeobject_metadata",
    );
    assert_eq!(lo.trim(), "scanned form, card 5105105105105100");

    // A truncated archive is an error, never clean.
    let cut = d.path().join("cut.dump");
    fs::write(&cut, &original[..original.len() - 100]).unwrap();
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), cut.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert_eq!(kind(&manifest(&m), "file")[0]["status"], "error");

    // A second scrub finds only the large object.
    let m = mpath();
    let o = panscrub(&["scrub", "-m", m.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_exit(&o, 1);
    let left = kind(&manifest(&m), "finding").len();
    assert_eq!(left, 1);
}
