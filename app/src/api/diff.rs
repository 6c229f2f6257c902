//! The drawer's files of a big change, one at a time: the drawer's page carries the first
//! files of a change whole and the others as stand-ins (see `diff_html::RenderedPatch::
//! page_html`); opening one fetches its HTML here. Without a script, the stand-in's link
//! (`?issue=ID&files=N#file-N`, made by [`file_link`]) asks the page for that file whole.

use crate::error::AppError;
use leptos::prelude::*;

/// One file of an issue's change as HTML (as the drawer shows it whole): `run` is one of the
/// issue's committed runs, `own` its own commit (otherwise the whole branch as that run left
/// it), `index` the file's place in the change.
#[server(endpoint = "get_diff_file", output = crate::api::codec::JsonText)]
pub async fn get_diff_file(
    id: i64,
    run: i64,
    #[server(default)] own: bool,
    index: usize,
) -> Result<String, AppError> {
    use super::ssr;
    ssr::caller(crate::domain::Action::Read).await?;
    let store = ssr::store()?;
    // Only a run of this issue: the file asked for is the one the drawer listed.
    let runs = store.committed_runs(id).await.map_err(ssr::with_status)?;
    if !runs.iter().any(|(r, _)| *r == run) {
        return Err(AppError::not_found(format!("run {run} with a change")));
    }
    let rendered = ssr::rendered_patch(&store, run, own)
        .await?
        .ok_or_else(|| AppError::not_found(format!("run {run} with a change")))?;
    rendered
        .file_html
        .get(index)
        .map(|file| file.html.clone())
        .ok_or_else(|| AppError::not_found(format!("file {index} of the change")))
}

/// The most files a page's `files=` asks for whole (the rest stay stand-ins).
const WANTED_MAX: usize = 64;

/// The files a page's `files=` asks for whole: `3` or `3,5`; what is not a number is skipped.
pub fn wanted_files(files: &str) -> Vec<usize> {
    let mut wanted: Vec<usize> = files
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .take(WANTED_MAX)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The page that shows file `index` of an issue's change whole, with the ones it shows
/// already (`wanted`), at that file: `?issue=7&changes=run-3&files=2,5#file-5`.
pub fn file_link(issue: i64, own_run: Option<i64>, wanted: &[usize], index: usize) -> String {
    let mut files: Vec<String> = wanted.iter().map(|i| i.to_string()).collect();
    if !wanted.contains(&index) {
        files.push(index.to_string());
    }
    let changes = own_run
        .map(|run| format!("&changes=run-{run}"))
        .unwrap_or_default();
    format!(
        "?issue={issue}{changes}&files={}#file-{index}",
        files.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_asked_for_are_read_leniently_and_capped() {
        assert_eq!(wanted_files(""), Vec::<usize>::new());
        assert_eq!(wanted_files("5,3,x,-1,3, 7"), vec![3, 5, 7]);
        let many = (0..1000).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(wanted_files(&many.join(",")).len(), WANTED_MAX);
    }

    #[test]
    fn a_files_link_keeps_the_files_shown_and_the_run() {
        assert_eq!(file_link(7, None, &[], 4), "?issue=7&files=4#file-4");
        assert_eq!(
            file_link(7, Some(3), &[2, 9], 5),
            "?issue=7&changes=run-3&files=2,9,5#file-5"
        );
        assert_eq!(file_link(7, None, &[5], 5), "?issue=7&files=5#file-5");
    }
}
