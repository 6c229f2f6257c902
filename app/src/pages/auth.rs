//! Sign-in and first-run pages. Plain HTML forms posting to the server: they work the same
//! with and without JavaScript.

use super::hydration_marker;
use crate::api::{get_sign_in_options, PasswordSignIn};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = move || {
        query.read().get("error").map(|code| match code.as_str() {
            "rate" => "Too many attempts. Wait a minute, then try again.",
            "password_off" => "Password sign-in is off on this board: use the button above.",
            _ => "That email and password do not match an account.",
        })
    };
    let signed_out = move || query.read().get("signed_out").is_some();
    let options = Resource::new(|| (), |_| get_sign_in_options());
    let marker = hydration_marker();
    view! {
        <main class="auth-page" data-hydrated=move || marker.get()>
            <form class="auth-card" method="post" action="/login">
                <h1>"Sign in to Autopilot"</h1>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                {move || {
                    signed_out()
                        .then(|| view! { <p class="notice" role="status">"You are signed out."</p> })
                }}
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let options = options.await.unwrap_or_default();
                        let start = format!(
                            "/auth/oidc/start?next={}",
                            crate::percent::query_value(&next()),
                        );
                        let provider = options.provider_label.map(|label| {
                            view! {
                                // External: the router must not handle it, the server does.
                                <a class="button provider" href=start rel="external">
                                    {format!("Sign in with {label}")}
                                </a>
                            }
                        });
                        let password = match options.password {
                            PasswordSignIn::Off => None,
                            mode => Some(view! { <PasswordFields next=next() mode /> }),
                        };
                        view! { {provider} {password} }
                    })}
                </Suspense>
            </form>
        </main>
    }
}

/// The email and password fields of the sign-in form.
#[component]
fn PasswordFields(next: String, mode: PasswordSignIn) -> impl IntoView {
    let admins_only = (mode == PasswordSignIn::Admins)
        .then(|| view! { <p class="hint">"Password sign-in is for admins only."</p> });
    view! {
        {admins_only}
        <label>
            "Email"
            <input type="email" name="email" autocomplete="username" required autofocus />
        </label>
        <label>
            "Password"
            <input type="password" name="password" autocomplete="current-password" required />
        </label>
        <input type="hidden" name="next" value=next />
        <button type="submit">"Sign in"</button>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let error = move || {
        query.read().get("error").map(|code| match code.as_str() {
            "token" => "This set-up link is not valid. Use the link printed in the server log.",
            "email" => "Enter an email address like name@example.com.",
            "name" => "Enter your name (up to 100 characters).",
            "password" => "The password needs at least 12 characters.",
            _ => "Something is missing; check the form.",
        })
    };
    let marker = hydration_marker();
    view! {
        <main class="auth-page" data-hydrated=move || marker.get()>
            <form class="auth-card" method="post" action="/setup">
                <h1>"Welcome to Autopilot"</h1>
                <p class="hint">
                    "Create the first admin. The set-up link with its token is printed in the server's log."
                </p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <input type="hidden" name="token" value=token />
                <label>
                    "Your name" <input type="text" name="name" autocomplete="name" required />
                </label>
                <label>
                    "Email" <input type="email" name="email" autocomplete="username" required />
                </label>
                <label>
                    "Password (12 characters or more)"
                    <input
                        type="password"
                        name="password"
                        autocomplete="new-password"
                        minlength="12"
                        required
                    />
                </label>
                <button type="submit">"Create admin and sign in"</button>
            </form>
        </main>
    }
}
