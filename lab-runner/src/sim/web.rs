//! The front ends on the API's port: `lab-runner sim` serves the playground (web-ui's trunk
//! build, `--web-dir`) at `/` and the books (mdBook output, `--book-dir`) at `/book/<lang>/`,
//! from disk, next to the Kubernetes API — one origin, so the page can read the API and its
//! watch streams without CORS.
//!
//! Paths whose first segment belongs to the apiserver (`/api`, `/apis`, `/openapi`, `/version`,
//! `/svclab`, the health checks) are never looked up on disk, so a file can never shadow the API
//! kubectl talks to. Files go out through tower-http's `ServeDir` (content types, conditional
//! requests, ranges, no path traversal).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use tower_http::services::ServeDir;

/// First path segments the API owns (what a real apiserver answers on).
const API_SEGMENTS: &[&str] = &[
    "api", "apis", "openapi", "version", "svclab", "healthz", "livez", "readyz", "metrics",
];

/// Where the built front ends are, if anywhere.
#[derive(Clone, Debug, Default)]
pub struct WebDirs {
    /// web-ui's `dist` folder (index.html, the wasm and JS), served at `/`.
    pub web: Option<PathBuf>,
    /// The books' build folder with one subfolder per language, served at `/book/`.
    pub book: Option<PathBuf>,
}

/// Whether `path` is the Kubernetes API's (never served from disk).
pub fn is_api_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    API_SEGMENTS.contains(&first)
}

/// The page `/` shows when no playground was built: how to get one.
const NOT_BUILT: &str = "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>svclab sim</title></head>
<body>
<h1>svclab sim</h1>
<p>The Kubernetes API is on this port: <code>export KUBECONFIG=$SVCLAB_HOME/kubeconfig</code>, then <code>kubectl get svc</code>.</p>
<p>The playground is not built here: run <code>scripts/build-web</code>, then start <code>lab-runner sim --web-dir web-ui/dist --book-dir book/build</code> (<code>scripts/run</code> does both).</p>
<p lang=\"zh-CN\">此端口提供 Kubernetes API：<code>export KUBECONFIG=$SVCLAB_HOME/kubeconfig</code>，然后 <code>kubectl get svc</code>。</p>
<p lang=\"zh-CN\">这里还没有构建浏览器练习场：先运行 <code>scripts/build-web</code>，再用 <code>lab-runner sim --web-dir web-ui/dist --book-dir book/build</code> 启动（<code>scripts/run</code> 两步都做）。</p>
</body></html>
";

impl WebDirs {
    /// The answer for a request the API does not own: a file from the web or book folder, the
    /// "not built" page at `/`, or `None` (the API's own 404 Status follows).
    pub async fn serve(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &axum::http::HeaderMap,
    ) -> Option<Response> {
        if !matches!(*method, Method::GET | Method::HEAD) || is_api_path(uri.path()) {
            return None;
        }
        let path = uri.path();
        let (dir, rest) = if path == "/book" || path.starts_with("/book/") {
            (self.book.as_ref()?, &path["/book".len()..])
        } else if let Some(web) = &self.web {
            (web, path)
        } else if path == "/" || path == "/index.html" {
            let page = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                NOT_BUILT,
            );
            return Some(page.into_response());
        } else {
            return None;
        };
        // `/book` → `/book/`: relative links in the index resolve under the folder.
        let rest = if rest.is_empty() { "/" } else { rest };
        let target = match uri.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        let mut req = Request::builder().method(method.clone()).uri(target);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req.body(Body::empty()).ok()?;
        let served = ServeDir::new(dir)
            .append_index_html_on_directories(true)
            .try_call(req)
            .await;
        Some(match served {
            Ok(resp) => resp.map(Body::new),
            // tower-http 0.7 reports some missing files as an error rather than its 404.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n".to_string(),
            )
                .into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("reading {}: {e}\n", dir.display()),
            )
                .into_response(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_never_files() {
        for p in [
            "/api",
            "/api/v1/pods",
            "/apis/apps/v1",
            "/openapi/v3",
            "/version",
            "/svclab/v1/info",
            "/healthz",
        ] {
            assert!(is_api_path(p), "{p}");
        }
        for p in [
            "/",
            "/index.html",
            "/book/en/",
            "/web-ui-1a2b_bg.wasm",
            "/apiary",
        ] {
            assert!(!is_api_path(p), "{p}");
        }
    }

    async fn get(dirs: &WebDirs, path: &str) -> Option<(StatusCode, String)> {
        let uri: Uri = path.parse().unwrap();
        let resp = dirs
            .serve(&Method::GET, &uri, &axum::http::HeaderMap::new())
            .await?;
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    #[tokio::test]
    async fn files_from_the_web_and_book_folders() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("dist");
        let book = dir.path().join("book");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::create_dir_all(book.join("en")).unwrap();
        std::fs::write(web.join("index.html"), "playground").unwrap();
        std::fs::write(book.join("en/index.html"), "book en").unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();
        let dirs = WebDirs {
            web: Some(web),
            book: Some(book),
        };
        assert_eq!(
            get(&dirs, "/?embed=map").await,
            Some((StatusCode::OK, "playground".into()))
        );
        assert_eq!(
            get(&dirs, "/book/en/").await,
            Some((StatusCode::OK, "book en".into()))
        );
        assert_eq!(
            get(&dirs, "/missing.js").await.unwrap().0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&dirs, "/../secret").await.unwrap().0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(get(&dirs, "/api/v1").await, None);
        let post = dirs
            .serve(&Method::POST, &"/".parse().unwrap(), &Default::default())
            .await;
        assert!(post.is_none());
    }

    #[tokio::test]
    async fn without_folders_the_root_says_how_to_build() {
        let dirs = WebDirs::default();
        let (status, body) = get(&dirs, "/").await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("scripts/build-web"), "{body}");
        assert_eq!(get(&dirs, "/book/en/").await, None);
        assert_eq!(get(&dirs, "/app.js").await, None);
    }
}
