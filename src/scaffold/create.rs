//! `kensa create`: render a template into a new project with its manifest and `.env`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;
use tera::Context;

use super::inputs::{self, AddonOptions, Defaults};
use super::render::{self, OutputFile};
use super::source::{self, Template};
use super::wizard::Wizard;
use super::writer::{self, DirState};
use super::{git, init, values, Missing, ScaffoldError, DEFAULT_PORT};
use crate::manifest::{dotenv, AddonSpec, Manifest, SsoMethod, DEFAULT_FILE};
use crate::output::{BOLD, DIM, GOOD};
use crate::{interrupt, prompt, slug};

/// What `kensa create` was asked for; what is missing the wizard asks (on a terminal).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dir: Option<PathBuf>,
    /// An embedded template's name or a template directory.
    pub template: Option<String>,
    pub addon: AddonOptions,
    /// `KEY=VALUE` template variables.
    pub set: Vec<String>,
    /// A JSON or TOML file of template variables.
    pub values_file: Option<PathBuf>,
    /// Print what would be written, write nothing.
    pub dry_run: bool,
    /// With `force`: write even in a git work tree with uncommitted changes.
    pub allow_dirty: bool,
}

pub fn run(args: Options) -> Result<ExitCode> {
    interrupt::install();
    let flags = inputs::check_flags(&args.addon)?;
    let wizard = prompt::interactive(args.addon.no_input).then(Wizard::default);
    let Given {
        template,
        dir,
        vars,
    } = given(&args, wizard.as_ref())?;
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
    let project_name = dir_name(&dir);
    let spec = inputs::addon_spec(
        flags,
        Defaults {
            id: slug::from_text(&project_name),
            port: DEFAULT_PORT,
        },
        wizard.as_ref(),
    )?;
    let vars = complete_variables(vars, &template, wizard.as_ref())?;
    let files = project_files(&template, &project_name, &spec, &vars)?;

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
    next_steps(&mut out, &dir, &template, spec.port, files.len())?;
    Ok(ExitCode::SUCCESS)
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
/// checks, defaults and files, never a prompt, nothing printed. `dir` must be absent or
/// empty. Returns the add-on the project was made for.
pub fn generate(
    dir: &Path,
    template: &Template,
    addon: &AddonOptions,
    set: &[String],
    values_file: Option<&Path>,
) -> Result<AddonSpec> {
    let flags = inputs::check_flags(addon)?;
    let vars = values::given(&template.spec, set, values_file)?;
    let missing = values::missing(&vars);
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
    };
    let spec = inputs::addon_spec(flags, defaults, None)?;
    let vars = complete_variables(vars, template, None)?;
    let files = project_files(template, &project_name, &spec, &vars)?;
    writer::write_project(dir, &files, false)?;
    Ok(spec)
}

/// The template, the directory and the template variables (`None`: not given yet).
struct Given {
    template: Template,
    dir: PathBuf,
    vars: BTreeMap<String, Option<Value>>,
}

/// Everything the flags (or the wizard) say about what to create. Without a wizard, every
/// missing value is reported at once, with the flag that sets it.
fn given(args: &Options, wizard: Option<&Wizard>) -> Result<Given> {
    let mut missing = Vec::new();
    let template_arg = match (&args.template, wizard) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(w)) => Some(w.template(&embedded_choices()?)?),
        (None, None) => {
            missing.push(Missing {
                what: "template".into(),
                how: format!(
                    "--template NAME, one of: {} (or --template ./path/to/template)",
                    source::embedded_names().join(", ")
                ),
            });
            None
        }
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
    let template = template_arg.as_deref().map(source::resolve).transpose()?;
    let vars = match &template {
        Some(t) => values::given(&t.spec, &args.set, args.values_file.as_deref())?,
        None => BTreeMap::new(),
    };
    if wizard.is_none() {
        missing.extend(values::missing(&vars));
    }
    match (template, dir) {
        (Some(template), Some(dir)) if missing.is_empty() => Ok(Given {
            template,
            dir,
            vars,
        }),
        _ => Err(ScaffoldError::Missing(missing).into()),
    }
}

/// The template variables with the wizard's answers for those still unset.
fn complete_variables(
    mut vars: BTreeMap<String, Option<Value>>,
    template: &Template,
    wizard: Option<&Wizard>,
) -> Result<BTreeMap<String, Value>> {
    if let Some(w) = wizard {
        for (name, value) in vars.iter_mut().filter(|(_, v)| v.is_none()) {
            *value = Some(w.variable(name, &template.spec.variables[name])?);
        }
    }
    Ok(vars
        .into_iter()
        .map(|(k, v)| (k, v.expect("every variable is set by now")))
        .collect())
}

/// The rendered template plus the manifest and `.env`, sorted by path.
fn project_files(
    template: &Template,
    project_name: &str,
    spec: &AddonSpec,
    vars: &BTreeMap<String, Value>,
) -> Result<Vec<OutputFile>> {
    let manifest = Manifest::new_addon(spec);
    init::ensure_valid(&manifest)?;
    let mut files = render::render(template, &context(project_name, spec, vars))?;
    files.push(OutputFile {
        path: DEFAULT_FILE.into(),
        bytes: manifest.to_json().into_bytes(),
        mode: crate::manifest::FILE_MODE,
    });
    files.push(OutputFile {
        path: dotenv::FILE.into(),
        bytes: dotenv::contents(&manifest).into_bytes(),
        mode: dotenv::MODE,
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The variables every template can use (templates/README.md), plus the template's own.
pub fn context(project_name: &str, spec: &AddonSpec, vars: &BTreeMap<String, Value>) -> Context {
    let prefix = slug::config_prefix(&spec.id);
    let mut c = Context::new();
    c.insert("project_name", project_name);
    c.insert("id", &spec.id);
    c.insert("name", &spec.name);
    c.insert("config_var", &format!("{prefix}_URL"));
    c.insert("config_vars_prefix", &prefix);
    c.insert("port", &spec.port);
    c.insert(
        "sso_method",
        match spec.sso {
            Some(SsoMethod::Post) => "post",
            Some(SsoMethod::Get) => "get",
            None => "none",
        },
    );
    c.insert("regions", &spec.regions);
    c.insert("kensa_version", env!("CARGO_PKG_VERSION"));
    for (name, value) in vars {
        c.insert(name.as_str(), value);
    }
    c
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
) -> Result<()> {
    use crate::output::{kensa_command, kensa_is_on_path, shell_quote};
    writeln!(
        out,
        "{GOOD}Created{GOOD:#} {BOLD}{}{BOLD:#} from the {} template ({count} files).",
        dir.display(),
        template.name
    )?;
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
