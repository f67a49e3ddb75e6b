//! The UI is built for the gateway's `/ui/` path (Vite `base: '/ui/'`), so
//! its HTML asks for `/ui/assets/…`. In the window the same build is served
//! from the root of `tauri://localhost`; this wrapper answers `/ui/X` with
//! the embedded `X`, so one build serves both (STYLE §13).

use std::borrow::Cow;

use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{Assets, Context, Runtime};

const BASE: &str = "/ui/";

struct UiBase<R: Runtime> {
    inner: Box<dyn Assets<R>>,
}

impl<R: Runtime> Assets<R> for UiBase<R> {
    fn setup(&self, app: &tauri::App<R>) {
        self.inner.setup(app);
    }

    fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        self.inner.get(key).or_else(|| {
            let rest = key.as_ref().strip_prefix(BASE)?;
            self.inner.get(&AssetKey::from(rest))
        })
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        self.inner.iter()
    }

    fn csp_hashes(&self, html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        self.inner.csp_hashes(html_path)
    }
}

/// Wraps the context's embedded assets.
pub fn serve_ui_base<R: Runtime>(context: &mut Context<R>) {
    let noop: Box<dyn Assets<R>> = Box::new(NoAssets);
    let inner = context.set_assets(noop);
    context.set_assets(Box::new(UiBase { inner }));
}

/// Holds the place for a moment while the real assets are wrapped.
struct NoAssets;

impl<R: Runtime> Assets<R> for NoAssets {
    fn get(&self, _key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        None
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(std::iter::empty())
    }

    fn csp_hashes(&self, _html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixed(HashMap<String, Vec<u8>>);

    impl<R: Runtime> Assets<R> for Fixed {
        fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
            self.0
                .get(key.as_ref())
                .map(|v| Cow::Borrowed(v.as_slice()))
        }
        fn iter(&self) -> Box<AssetsIter<'_>> {
            Box::new(std::iter::empty())
        }
        fn csp_hashes(&self, _: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
            Box::new(std::iter::empty())
        }
    }

    #[test]
    fn ui_prefixed_paths_resolve_to_the_root() {
        let files = [
            ("/index.html", "<html>"),
            ("/assets/app.js", "js"),
            ("/ui/only-here.txt", "x"),
        ];
        let inner: Box<dyn Assets<tauri::test::MockRuntime>> = Box::new(Fixed(
            files
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        ));
        let a = UiBase { inner };
        let get = |p: &str| {
            a.get(&AssetKey::from(p))
                .map(|c| String::from_utf8_lossy(&c).into_owned())
        };
        assert_eq!(get("/ui/assets/app.js").as_deref(), Some("js"));
        assert_eq!(get("assets/app.js").as_deref(), Some("js"));
        assert_eq!(get("/ui/only-here.txt").as_deref(), Some("x"));
        assert_eq!(get("/ui/missing.js"), None);
        assert_eq!(get("/other/app.js"), None);
    }
}
