//! The public Heroku pages the checks cite (docs/protocol.md#sources lists them all).

/// A public page: its title and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub title: &'static str,
    pub url: &'static str,
}

pub const MANIFEST: Page = Page {
    title: "Add-on Manifest",
    url: "https://devcenter.heroku.com/articles/add-on-manifest",
};

pub const PARTNER_API: Page = Page {
    title: "Add-on Partner API Reference",
    url: "https://devcenter.heroku.com/articles/add-on-partner-api-reference",
};

pub const LEGACY_PARTNER_API: Page = Page {
    title: "[Legacy] Add-on Partner API Reference",
    url: "https://devcenter.heroku.com/articles/legacy-add-on-partner-api-reference",
};

pub const PROVIDER_API: Page = Page {
    title: "Add-on Provider API",
    url: "https://devcenter.heroku.com/articles/add-on-provider-api",
};

pub const BUILDING: Page = Page {
    title: "Building an Add-on",
    url: "https://devcenter.heroku.com/articles/building-an-add-on",
};

pub const SSO: Page = Page {
    title: "Add-on Single Sign-on",
    url: "https://devcenter.heroku.com/articles/add-on-single-sign-on",
};

pub const ASYNC_PROVISIONING: Page = Page {
    title: "Asynchronous Provisioning of Add-ons",
    url: "https://devcenter.heroku.com/articles/getting-started-with-asynchronous-provisioning",
};

pub const ASYNC_DEPROVISIONING: Page = Page {
    title: "Asynchronous Deprovisioning of Add-ons",
    url: "https://devcenter.heroku.com/articles/asynchronous-deprovisioning-of-addons",
};

pub const PLATFORM_API_FOR_PARTNERS: Page = Page {
    title: "Platform API for Partners",
    url: "https://devcenter.heroku.com/articles/platform-api-for-partners",
};

pub const SHAREABLE: Page = Page {
    title: "Making Your Add-on Shareable",
    url: "https://devcenter.heroku.com/articles/making-your-add-on-shareable",
};

pub const LOGS: Page = Page {
    title: "Writing to Application Logs as an Add-on Partner",
    url: "https://devcenter.heroku.com/articles/add-on-partner-log-integration",
};

/// The original Ruby kensa, for rules Heroku's tool enforced but no Dev Center page states.
pub const KENSA_GEM: Page = Page {
    title: "heroku/kensa (the original gem)",
    url: "https://github.com/heroku/kensa",
};

pub const BEST_PRACTICES: Page = Page {
    title: "Add-on Partner Technical Best Practices",
    url: "https://devcenter.heroku.com/articles/add-on-partner-technical-best-practices",
};

pub const PLATFORM_API_RATE_LIMITS: Page = Page {
    title: "Platform API Reference, Rate Limits",
    url: "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits",
};

pub const ASYNC_BLOG: Page = Page {
    title: "Updated Async Provisioning of Add-ons",
    url: "https://blog.heroku.com/updated-async-provisioning-of-add-ons",
};

/// Heroku's example v3 add-on, for what no Dev Center page states but Heroku's own code does.
pub const SUDO_SANDWICH: Page = Page {
    title: "heroku/sudo-sandwich (Heroku's example v3 add-on)",
    url: "https://github.com/heroku/sudo-sandwich",
};

/// Heroku's CLI plugin that generates, pushes and pulls manifests today.
pub const ADDONS_ADMIN: Page = Page {
    title: "heroku/heroku-cli-addons-admin",
    url: "https://github.com/heroku/heroku-cli-addons-admin",
};
