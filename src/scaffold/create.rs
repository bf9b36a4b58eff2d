//! `kensa create`: render a template into a new project with its manifest, `.env` and
//! the record of how it was made (`.kensa/answers.toml`, `.kensa/pristine.json.gz`), then
//! make it a git repository with a first commit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use indexmap::IndexMap;
use serde_json::Value;
use tera::Context;

use super::answers::{self, AddonRecord, Answers, ProjectRecord, TemplateRecord};
use super::config::UserConfig;
use super::inputs::{self, AddonOptions, Defaults};
use super::render::{self, OutputFile};
use super::source::{self, Origin, Template};
use super::spec::{TemplateSpec, VarType};
use super::values::{self, Slot, Sources, Values};
use super::wizard::Wizard;
use super::writer::{self, DirState};
use super::{git, init, Missing, ScaffoldError, DEFAULT_PORT};
use crate::manifest::{dotenv, AddonSpec, Manifest, DEFAULT_FILE};
use crate::output::{self, BOLD, DIM, GOOD};
use crate::{interrupt, prompt, slug, state};

/// What `kensa create` was asked for; what is missing the wizard asks (on a terminal).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dir: Option<PathBuf>,
    /// An embedded template's name, a template directory or a git source.
    pub template: Option<String>,
    /// `--ref`: the branch, tag or commit of a git source.
    pub git_ref: Option<String>,
    pub addon: AddonOptions,
    /// `KEY=VALUE` template variables.
    pub set: Vec<String>,
    /// A JSON or TOML file of template variables.
    pub values_file: Option<PathBuf>,
    /// Another project (or its answers file) whose answers to reuse.
    pub replay: Option<PathBuf>,
    /// Make the project a git repository with a first commit.
    pub vcs: bool,
    /// Print what would be written, write nothing.
    pub dry_run: bool,
    /// With `force`: write even in a git work tree with uncommitted changes.
    pub allow_dirty: bool,
}

pub fn run(args: Options) -> Result<ExitCode> {
    interrupt::install();
    let user = UserConfig::load()?;
    let replay = match &args.replay {
        Some(path) => Some(Answers::load(path)?.0),
        None => None,
    };
    let addon_args = with_recorded_addon(&args.addon, replay.as_ref());
    let flags = inputs::check_flags(&addon_args)?;
    let wizard = prompt::interactive(args.addon.no_input).then(Wizard::default);
    let Given {
        template,
        dir,
        mut slots,
    } = given(&args, &user, replay.as_ref(), wizard.as_ref())?;
    // Decided before anything else is asked: an occupied directory needs --force or a
    // person to say yes later, and a clean work tree.
    let state = writer::inspect(&dir)?;
    if state == DirState::Occupied {
        if !args.addon.force && wizard.is_none() {
            return Err(occupied(&dir).into());
        }
        if dir.is_dir() && !args.dry_run {
            git::ensure_clean(&dir, args.allow_dirty)?;
        }
    }
    let project_name = replay
        .as_ref()
        .map_or_else(|| dir_name(&dir), |a| a.project.name.clone());
    let spec = inputs::addon_spec(
        flags,
        Defaults {
            id: slug::from_text(&project_name),
            port: DEFAULT_PORT,
            regions: user.regions.clone(),
        },
        wizard.as_ref(),
    )?;
    if let Some(w) = &wizard {
        ask_variables(w, &template.spec, &mut slots)?;
        values::generate_secrets(&template.spec, &mut slots);
        let rows = summary(&dir, &template, &spec, &template.spec, &slots);
        if !w.confirm_summary("kensa create will use", &rows)? {
            return Err(ScaffoldError::Usage(crate::error::UsageError::new(
                "stopped at the summary; nothing was written",
            ))
            .into());
        }
    }
    let values = Values::from_slots(&template.spec, slots);
    let project = make_project(&template, &project_name, &spec, &values)?;
    let files = project.all_files();

    let mut out = anstream::stdout().lock();
    if args.dry_run {
        writeln!(
            out,
            "Would create {} from the {} template ({} files); nothing written:",
            dir.display(),
            template.name,
            files.len()
        )?;
        for f in &files {
            writeln!(out, "  {:o}  {:>7}  {}", f.mode, f.bytes.len(), f.path)?;
        }
        if state == DirState::Occupied {
            show_plan(&mut out, &dir, &writer::plan(&dir, &files)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if state == DirState::Occupied {
        let plan = writer::plan(&dir, &files)?;
        show_plan(&mut out, &dir, &plan)?;
        out.flush()?;
        if !args.addon.force {
            let question = format!(
                "Write the template's files into {} ({} replaced, {} added; nothing else is touched)?",
                dir.display(),
                plan.replaced.len(),
                plan.added.len()
            );
            if !prompt::confirm(&question)? {
                return Err(occupied(&dir).into());
            }
        }
    }
    writer::write_project(&dir, &files, state == DirState::Occupied)?;
    let committed = if args.vcs && state != DirState::Occupied {
        commit_project(&dir, &template)?
    } else {
        None
    };
    next_steps(&mut out, &dir, &template, spec.port, files.len(), committed)?;
    Ok(ExitCode::SUCCESS)
}

/// The add-on flags, with a replayed project's answers for what they leave open.
fn with_recorded_addon(flags: &AddonOptions, replay: Option<&Answers>) -> AddonOptions {
    let Some(recorded) = replay.and_then(|a| a.addon.spec()) else {
        return flags.clone();
    };
    let decided_sso = flags.without_sso || flags.sso.is_some();
    AddonOptions {
        id: flags.id.clone().or(Some(recorded.id)),
        name: flags.name.clone().or(Some(recorded.name)),
        regions: flags.regions.clone().or(Some(recorded.regions)),
        sso: if decided_sso { flags.sso } else { recorded.sso },
        without_sso: flags.without_sso || (!decided_sso && recorded.sso.is_none()),
        port: flags.port.or(Some(recorded.port)),
        ..flags.clone()
    }
}

fn occupied(dir: &Path) -> ScaffoldError {
    ScaffoldError::Exists {
        path: dir.to_owned(),
        what: " and is not empty",
    }
}

/// What `--force` will do to a directory in use: the files it replaces, by name (they are
/// what the user could lose), and how many it adds. Everything else stays as it is.
fn show_plan(out: &mut impl Write, dir: &Path, plan: &writer::Plan) -> Result<()> {
    writeln!(
        out,
        "{} is not empty: kensa writes only the template's files into it and keeps every other file.",
        dir.display()
    )?;
    for path in &plan.replaced {
        writeln!(out, "  {BOLD}replace{BOLD:#}  {path}")?;
    }
    if !plan.added.is_empty() {
        writeln!(
            out,
            "  {BOLD}add{BOLD:#}      {} new files",
            plan.added.len()
        )?;
    }
    if !plan.unchanged.is_empty() {
        writeln!(
            out,
            "  {DIM}{} files are already as the template writes them{DIM:#}",
            plan.unchanged.len()
        )?;
    }
    Ok(())
}

/// `kensa create` as a library call (`kensa templates verify` generates with it): the same
/// checks, defaults and files, never a prompt, nothing printed, no repository. `dir` must
/// be absent or empty. Returns the add-on the project was made for.
pub fn generate(
    dir: &Path,
    template: &Template,
    addon: &AddonOptions,
    set: &[String],
    values_file: Option<&Path>,
) -> Result<AddonSpec> {
    let flags = inputs::check_flags(addon)?;
    let mut slots = values::given(
        &template.spec,
        &Sources {
            values_file,
            sets: set,
            ..Sources::default()
        },
    )?;
    values::generate_secrets(&template.spec, &mut slots);
    let missing = values::missing(&slots);
    if !missing.is_empty() {
        return Err(ScaffoldError::Missing(missing).into());
    }
    if writer::inspect(dir)? == DirState::Occupied {
        return Err(occupied(dir).into());
    }
    let project_name = dir_name(dir);
    let defaults = Defaults {
        id: slug::from_text(&project_name),
        port: DEFAULT_PORT,
        regions: None,
    };
    let spec = inputs::addon_spec(flags, defaults, None)?;
    let values = Values::from_slots(&template.spec, slots);
    let project = make_project(template, &project_name, &spec, &values)?;
    writer::write_project(dir, &project.all_files(), false)?;
    Ok(spec)
}

/// The template, the directory and the template variables so far.
struct Given {
    template: Template,
    dir: PathBuf,
    slots: IndexMap<String, Slot>,
}

/// Everything the flags (or recorded answers, the user's defaults, the wizard) say about
/// what to create. Without a wizard, every missing value is reported at once, with the
/// flag that sets it.
fn given(
    args: &Options,
    user: &UserConfig,
    replay: Option<&Answers>,
    wizard: Option<&Wizard>,
) -> Result<Given> {
    let mut missing = Vec::new();
    // A replay renders the commit it recorded, unless told another template.
    let (recorded_source, recorded_ref) = match replay {
        Some(a) if args.template.is_none() => (
            Some(a.template.source.clone()),
            a.template
                .commit
                .clone()
                .or_else(|| a.template.git_ref.clone()),
        ),
        _ => (None, None),
    };
    let template_arg = match args
        .template
        .clone()
        .or(recorded_source)
        .or_else(|| user.template.clone())
    {
        Some(t) => Some(t),
        None => match wizard {
            Some(w) => Some(w.template(&embedded_choices()?)?),
            None => {
                missing.push(Missing {
                    what: "template".into(),
                    how: format!(
                        "--template NAME, one of: {} (or --template ./path/to/template, or a git URL)",
                        source::embedded_names().join(", ")
                    ),
                });
                None
            }
        },
    };
    let dir = match (&args.dir, wizard) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(w)) => Some(PathBuf::from(w.directory()?)),
        (None, None) => {
            missing.push(Missing {
                what: "project directory".into(),
                how: "the DIR argument: kensa create DIR --template NAME".into(),
            });
            None
        }
    };
    let git_ref = args.git_ref.clone().or(recorded_ref);
    let mut template = template_arg
        .as_deref()
        .map(|arg| source::resolve(arg, git_ref.as_deref()))
        .transpose()?;
    // A replay renders the recorded commit but follows the recorded ref (a branch or a
    // tag) from then on, as the project it replays does.
    if let (Some(t), Some(a), None, None) = (&mut template, replay, &args.template, &args.git_ref) {
        if let Origin::Git { source, .. } = &mut t.origin {
            if a.template.git_ref.is_some() {
                source.git_ref.clone_from(&a.template.git_ref);
            }
        }
    }
    let slots = match (&template, &template_arg) {
        (Some(t), Some(arg)) => {
            let defaults = user.values_for(arg);
            let mut slots = values::given(
                &t.spec,
                &Sources {
                    user_config: Some(&defaults),
                    recorded: replay.map(|a| &a.values).map(index_to_map).as_ref(),
                    values_file: args.values_file.as_deref(),
                    sets: &args.set,
                },
            )?;
            if wizard.is_none() {
                values::generate_secrets(&t.spec, &mut slots);
                missing.extend(values::missing(&slots));
            }
            slots
        }
        _ => IndexMap::new(),
    };
    match (template, dir) {
        (Some(template), Some(dir)) if missing.is_empty() => Ok(Given {
            template,
            dir,
            slots,
        }),
        _ => Err(ScaffoldError::Missing(missing).into()),
    }
}

fn index_to_map(values: &IndexMap<String, Value>) -> serde_json::Map<String, Value> {
    values.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The wizard asks every variable not given explicitly, suggesting what it has; secrets
/// the template generates are not asked.
fn ask_variables(
    w: &Wizard,
    spec: &TemplateSpec,
    slots: &mut IndexMap<String, Slot>,
) -> Result<()> {
    for (name, slot) in slots.iter_mut().filter(|(_, s)| s.ask) {
        let var = &spec.variables[name];
        if var.kind == VarType::Secret && var.generate {
            continue;
        }
        slot.value = Some(w.variable(name, var, slot.value.as_ref())?);
        slot.ask = false;
    }
    Ok(())
}

/// The values the wizard's summary shows, secrets hidden.
fn summary(
    dir: &Path,
    template: &Template,
    spec: &AddonSpec,
    tspec: &TemplateSpec,
    slots: &IndexMap<String, Slot>,
) -> Vec<(String, String)> {
    let mut rows = vec![
        ("directory".to_owned(), dir.display().to_string()),
        ("template".to_owned(), template.name.clone()),
        ("id".to_owned(), spec.id.clone()),
        ("name".to_owned(), spec.name.clone()),
        ("regions".to_owned(), spec.regions.join(", ")),
        (
            "single sign-on".to_owned(),
            answers::sso_word(spec.sso).to_owned(),
        ),
        ("port".to_owned(), spec.port.to_string()),
    ];
    for (name, slot) in slots {
        let shown = match (&slot.value, tspec.variables[name].kind) {
            (Some(_), VarType::Secret) => "(hidden; goes to .env)".to_owned(),
            (Some(Value::String(s)), _) => s.clone(),
            (Some(Value::Array(items)), _) => items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join(", "),
            (Some(other), _) => other.to_string(),
            (None, _) => "(random, generated)".to_owned(),
        };
        rows.push((name.clone(), shown));
    }
    rows
}

/// What a project is made of: the template's files (what `update` merges), and the
/// manifest, `.env` and the record of how it was made.
pub struct Project {
    /// The rendered template: also the pristine copy.
    pub rendered: Vec<OutputFile>,
    pub manifest: Manifest,
    pub env: String,
    pub answers: Answers,
}

impl Project {
    /// Every file `create` writes, sorted by path.
    pub fn all_files(&self) -> Vec<OutputFile> {
        let mut files = self.rendered.clone();
        files.push(OutputFile {
            path: DEFAULT_FILE.into(),
            bytes: self.manifest.to_json().into_bytes(),
            mode: crate::manifest::FILE_MODE,
        });
        files.push(OutputFile {
            path: dotenv::FILE.into(),
            bytes: self.env.clone().into_bytes(),
            mode: dotenv::MODE,
        });
        files.extend(record_files(&self.answers, &self.rendered));
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }
}

/// `.kensa/answers.toml`, `.kensa/pristine.json.gz` and `.kensa/.gitignore`.
pub fn record_files(answers: &Answers, rendered: &[OutputFile]) -> Vec<OutputFile> {
    let at = |name: &str| format!("{}/{name}", state::DIR);
    vec![
        OutputFile {
            path: at(".gitignore"),
            bytes: state::GITIGNORE.as_bytes().to_vec(),
            mode: 0o644,
        },
        OutputFile {
            path: at(state::ANSWERS),
            bytes: answers.to_toml().into_bytes(),
            mode: 0o644,
        },
        OutputFile {
            path: at(state::PRISTINE),
            bytes: answers::pack(rendered),
            mode: 0o644,
        },
    ]
}

/// Renders a new project: the template, a fresh manifest (new secrets), its `.env` with
/// the template's secrets, and the answers.
pub fn make_project(
    template: &Template,
    project_name: &str,
    spec: &AddonSpec,
    values: &Values,
) -> Result<Project> {
    let manifest = Manifest::new_addon(spec);
    init::ensure_valid(&manifest)?;
    let rendered = render_template(template, project_name, spec, &values.plain)?;
    let mut env = dotenv::contents(&manifest);
    for (key, value) in &values.secrets {
        env.push_str(&format!("{key}={value}\n"));
    }
    Ok(Project {
        answers: answers_for(template, project_name, spec, &values.plain),
        rendered,
        manifest,
        env,
    })
}

/// The template's own files for these answers, sorted by path, with kensa's own paths
/// (`.kensa/`) refused: what `create` writes besides the manifest and `.env`, and what
/// `update` renders twice.
pub fn render_template(
    template: &Template,
    project_name: &str,
    spec: &AddonSpec,
    plain: &IndexMap<String, Value>,
) -> Result<Vec<OutputFile>, ScaffoldError> {
    let rendered = render::render(template, &context(project_name, spec, plain))?;
    let kensa_dir = format!("{}/", state::DIR);
    let reserved: Vec<render::FileFailure> = rendered
        .iter()
        .filter(|f| f.path.starts_with(&kensa_dir))
        .map(|f| render::FileFailure {
            path: f.path.clone(),
            cause: format!(
                "{} is kensa's own folder; remove it from the template",
                state::DIR
            ),
        })
        .collect();
    if reserved.is_empty() {
        Ok(rendered)
    } else {
        Err(ScaffoldError::Render(reserved))
    }
}

/// The answers recorded for a project made of `template` with these values.
pub fn answers_for(
    template: &Template,
    project_name: &str,
    spec: &AddonSpec,
    plain: &IndexMap<String, Value>,
) -> Answers {
    let (git_ref, commit) = match &template.origin {
        Origin::Git { source, commit } => (source.git_ref.clone(), Some(commit.clone())),
        _ => (None, None),
    };
    Answers {
        kensa_version: env!("CARGO_PKG_VERSION").to_owned(),
        template: TemplateRecord {
            source: template.origin.source(&template.name),
            git_ref,
            commit,
            version: template.version.clone(),
        },
        project: ProjectRecord {
            name: project_name.to_owned(),
        },
        addon: AddonRecord::of(spec),
        values: plain.clone(),
    }
}

/// The variables every template can use (templates/README.md), plus the template's own
/// (never the secrets: those go to `.env` only).
pub fn context(project_name: &str, spec: &AddonSpec, vars: &IndexMap<String, Value>) -> Context {
    let prefix = slug::config_prefix(&spec.id);
    let mut c = Context::new();
    c.insert("project_name", project_name);
    c.insert("id", &spec.id);
    c.insert("name", &spec.name);
    c.insert("config_var", &format!("{prefix}_URL"));
    c.insert("config_vars_prefix", &prefix);
    c.insert("port", &spec.port);
    c.insert("sso_method", answers::sso_word(spec.sso));
    c.insert("sso", &spec.sso.is_some());
    c.insert("regions", &spec.regions);
    c.insert("kensa_version", env!("CARGO_PKG_VERSION"));
    for (name, value) in vars {
        c.insert(name.as_str(), value);
    }
    c
}

/// `git init` and a first commit, as `cargo new` does; what happened, for the next steps.
fn commit_project(dir: &Path, template: &Template) -> Result<Option<String>> {
    let message = format!(
        "Create {} from the {} template (kensa {})",
        dir_name(dir),
        template.name,
        env!("CARGO_PKG_VERSION")
    );
    Ok(
        match git::init_project(dir, &[dotenv::FILE, DEFAULT_FILE], &message)? {
            git::Initialised::Committed => Some("a git repository with a first commit".into()),
            git::Initialised::InsideRepository => None,
            git::Initialised::NoGit => {
                output::warn("git is not installed: the project is not a git repository");
                None
            }
            git::Initialised::NotCommitted(why) => {
                output::warn(&format!(
                    "git could not make the first commit ({why}); the files are staged: \
                     commit them yourself"
                ));
                Some("a git repository (nothing committed yet)".into())
            }
        },
    )
}

fn embedded_choices() -> Result<Vec<(String, String)>> {
    source::embedded_names()
        .into_iter()
        .map(|name| {
            Ok((
                name.to_owned(),
                source::load_embedded(name)?.spec.description,
            ))
        })
        .collect()
}

fn dir_name(dir: &Path) -> String {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What to run next, as commands that work when pasted: the project's own install and start
/// commands, then `kensa test all` from a second terminal, spelled so that it runs whether
/// or not kensa is installed on `PATH`.
fn next_steps(
    out: &mut impl Write,
    dir: &Path,
    template: &Template,
    port: u16,
    count: usize,
    repository: Option<String>,
) -> Result<()> {
    use crate::output::{kensa_command, kensa_is_on_path, shell_quote};
    writeln!(
        out,
        "{GOOD}Created{GOOD:#} {BOLD}{}{BOLD:#} from the {} template ({count} files).",
        dir.display(),
        template.name
    )?;
    if let Some(repository) = repository {
        writeln!(out, "{DIM}It is {repository}.{DIM:#}")?;
    }
    writeln!(out, "\nNext steps:")?;
    writeln!(out, "  cd {}", shell_quote(&dir.display().to_string()))?;
    let commands = &template.spec.commands;
    if let Some(install) = &commands.install {
        writeln!(out, "  {install}")?;
    }
    let start = match &commands.start {
        Some(start) => start.clone(),
        None => format!("heroku local web -p {port}"),
    };
    writeln!(
        out,
        "  {start}    {DIM}# the service on port {port}; leave it running{DIM:#}"
    )?;
    writeln!(out, "Then, in another terminal:")?;
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    writeln!(out, "  cd {}", shell_quote(&absolute.display().to_string()))?;
    writeln!(out, "  {} test all", kensa_command())?;
    if !kensa_is_on_path() {
        writeln!(
            out,
            "{DIM}(kensa is not on your PATH: `cargo install --path . --locked` in the kensa \
             clone puts it there, and then `kensa test all` works){DIM:#}"
        )?;
    }
    Ok(())
}
