//! The command line grammar (clap derive): every subcommand and flag of `rapport`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: a local-first CRM with a built-in softphone"
)]
pub struct Cli {
    /// The store file (default: the platform's data directory).
    #[arg(long, global = true, env = "RAPPORT_DB")]
    pub db: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Leads (companies): add, show, list, edit, delete.
    #[command(subcommand)]
    Lead(LeadCmd),
    /// Contacts of a lead.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Notes (Markdown) on a lead's timeline.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Links on a lead's timeline.
    #[command(subcommand)]
    Link(LinkCmd),

    /// Log an email on a lead's timeline.
    #[command(subcommand)]
    Email(EmailCmd),
    /// Log a meeting on a lead's timeline.
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// Tasks.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Opportunities (deals).
    #[command(subcommand, alias = "opp")]
    Opportunity(OppCmd),
    /// Lead statuses.
    #[command(subcommand)]
    Status(StatusCmd),
    /// Custom field definitions.
    #[command(subcommand)]
    Field(FieldCmd),
    /// Smart Views (saved searches).
    #[command(subcommand)]
    View(ViewCmd),
    /// Search leads with the query language (`rapport search 'status:customer calls > 3'`).
    Search(crate::search::SearchArgs),
    /// Rebuild the search index from the store.
    Reindex,
    /// Change every lead a search finds: `--set status=Cold`, `--set owner=ID`,
    /// `--set custom.NAME=V`, `--add-task TEXT`, `--delete`; prints the count changed.
    Bulk(crate::power::BulkArgs),
    /// Undo the store's last action (a single edit or a whole bulk action).
    Undo,
    /// Reports: `pipeline`, `calls`, `funnel` (`--query Q` for a search's leads).
    #[command(subcommand)]
    Report(crate::power::ReportCmd),
    /// Store settings.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Where the store is and what it holds.
    Info,
    /// Load a deterministic, realistic demo data set.
    Demo(DemoArgs),
    /// Export every lead.
    Export(ExportArgs),
    /// Import leads from a JSONL file.
    Import(ImportArgs),
    /// Softphone account: register, listen for calls.
    #[command(subcommand)]
    Phone(rapport_phone::cli::PhoneCommand),
    /// Team sync: `login`, one round (no subcommand), `--watch`, `status`, `logout`.
    Sync(crate::sync::SyncArgs),
    /// Place a SIP call (`rapport call TARGET`), or log one on a lead (`rapport call log LEAD`).
    #[command(disable_help_flag = true)]
    Call {
        /// `log LEAD [flags]`, or `TARGET [--play F] [--record F] [--hangup-after S] [--dtmf D] …`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum LeadCmd {
    Add(LeadFields),
    /// Show a lead page (lead, contacts, open tasks, opportunities, newest activities).
    Show {
        /// Lead id or exact name.
        lead: String,
    },
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    Edit {
        lead: String,
        #[command(flatten)]
        fields: LeadEdit,
    },
    Delete {
        lead: String,
    },
    /// Bring back a deleted lead (by id) with the records its delete removed.
    Undelete {
        id: String,
    },
    /// Merge lead B into lead A: B's records move to A, B's id stays an alias of A.
    Merge(crate::power::MergeArgs),
    /// Groups of leads that may be one company (same domain, email, phone or near-identical name).
    Duplicates {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Args)]
pub struct LeadFields {
    pub name: String,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub address: AddressArgs,
    /// A custom value, `Name=value` (repeatable).
    #[arg(long = "custom", value_name = "NAME=VALUE")]
    pub custom: Vec<String>,
}

#[derive(Args)]
pub struct LeadEdit {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub address: AddressArgs,
    #[arg(long = "custom", value_name = "NAME=VALUE")]
    pub custom: Vec<String>,
}

#[derive(Args, Default)]
pub struct AddressArgs {
    #[arg(long)]
    pub street: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub state: Option<String>,
    #[arg(long)]
    pub zip: Option<String>,
    #[arg(long)]
    pub country: Option<String>,
}

#[derive(Subcommand)]
pub enum ContactCmd {
    Add {
        lead: String,
        name: String,
        #[arg(long)]
        title: Option<String>,
        /// Email address, optionally `type:address` (repeatable).
        #[arg(long)]
        email: Vec<String>,
        /// Phone number, optionally `type:number` (repeatable).
        #[arg(long)]
        phone: Vec<String>,
    },
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// Replaces all emails (repeatable).
        #[arg(long)]
        email: Vec<String>,
        /// Replaces all phones (repeatable).
        #[arg(long)]
        phone: Vec<String>,
    },
    Delete {
        id: String,
    },
}

#[derive(Args)]
pub struct When {
    /// When it happened (RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC); default now.
    #[arg(long)]
    pub at: Option<String>,
    /// The contact it involved (id).
    #[arg(long)]
    pub contact: Option<String>,
}

#[derive(Subcommand)]
pub enum NoteCmd {
    Add {
        lead: String,
        /// The Markdown body; `-` or omitted reads standard input.
        body: Option<String>,
        /// Read the body from a file.
        #[arg(long, conflicts_with = "body")]
        file: Option<PathBuf>,
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Note bodies that lost a concurrent edit, waiting for review.
    Conflicts,
    /// Resolve a note conflict: keep the note's body (`--keep`), take the conflict's text
    /// (`--theirs`), or give the merged text (`BODY`, `--file F`, or standard input).
    Resolve {
        conflict: String,
        #[arg(long, conflicts_with_all = ["theirs", "body", "file"])]
        keep: bool,
        #[arg(long, conflicts_with_all = ["body", "file"])]
        theirs: bool,
        body: Option<String>,
        #[arg(long, conflicts_with = "body")]
        file: Option<PathBuf>,
    },
    /// Replace a note's body (`BODY`, `--file F`, or standard input).
    Edit {
        id: String,
        /// The new Markdown body; `-` or omitted reads standard input.
        body: Option<String>,
        #[arg(long, conflicts_with = "body")]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum LinkCmd {
    Add {
        lead: String,
        url: String,
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        when: When,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Dir {
    #[value(alias = "in")]
    Inbound,
    #[value(alias = "out")]
    Outbound,
}

/// `rapport call log …`, parsed from the arguments after `call`.
#[derive(Parser)]
#[command(name = "rapport call")]
pub struct CallLog {
    #[command(subcommand)]
    pub cmd: CallCmd,
}

#[derive(Subcommand)]
pub enum CallCmd {
    Log {
        lead: String,
        #[arg(long, value_enum, default_value = "outbound")]
        direction: Dir,
        /// answered, no-answer, busy, failed, vm-left…
        #[arg(long, default_value = "answered")]
        disposition: String,
        /// Duration in seconds.
        #[arg(long, default_value_t = 0)]
        duration: u32,
        /// The other party's number.
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        when: When,
    },
}

#[derive(Subcommand)]
pub enum EmailCmd {
    Log {
        lead: String,
        #[arg(long)]
        subject: String,
        #[arg(long, default_value = "")]
        body: String,
        #[arg(long, value_enum, default_value = "outbound")]
        direction: Dir,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Vec<String>,
        /// When the email was opened (repeatable).
        #[arg(long)]
        opened: Vec<String>,
        #[command(flatten)]
        when: When,
    },
}

#[derive(Subcommand)]
pub enum MeetingCmd {
    Log {
        lead: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        contact: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TaskCmd {
    Add {
        lead: String,
        text: String,
        /// Due date, YYYY-MM-DD.
        #[arg(long)]
        due: Option<String>,
    },
    Done {
        id: String,
        /// Mark as not done again.
        #[arg(long)]
        undo: bool,
    },
    List {
        /// Include completed tasks.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum OppCmd {
    Add {
        lead: String,
        #[command(flatten)]
        fields: OppFields,
    },
    Edit {
        id: String,
        #[command(flatten)]
        fields: OppFields,
    },
}

#[derive(Args)]
pub struct OppFields {
    /// Active, Won or Lost.
    #[arg(long)]
    pub status: Option<String>,
    /// Value in currency units, e.g. 1250.50.
    #[arg(long)]
    pub value: Option<String>,
    /// one_time, monthly or annual.
    #[arg(long)]
    pub period: Option<String>,
    #[arg(long)]
    pub confidence: Option<u8>,
    /// Expected close date, YYYY-MM-DD.
    #[arg(long)]
    pub close: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    #[arg(long)]
    pub contact: Option<String>,
}

#[derive(Subcommand)]
pub enum StatusCmd {
    List,
    Add { label: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Choice,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FieldFor {
    Lead,
    Contact,
}

#[derive(Subcommand)]
pub enum FieldCmd {
    Add {
        name: String,
        #[arg(long = "type", value_enum, default_value = "text")]
        kind: FieldKind,
        #[arg(long = "for", value_enum, default_value = "lead")]
        target: FieldFor,
        /// A choice (repeatable; for `--type choice`).
        #[arg(long)]
        choice: Vec<String>,
    },
    List,
}

#[derive(Subcommand)]
pub enum ViewCmd {
    Add {
        name: String,
        query: String,
        #[arg(long)]
        shared: bool,
    },
    List,
    Show {
        name: String,
    },
    Delete {
        name: String,
    },
    /// Run a Smart View: the leads it matches.
    Run(crate::search::ViewRunArgs),
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Default region for phone numbers written without a country code (e.g. US, GB, DE).
    Region { code: String },
}

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 1000)]
    pub leads: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The data set's "now" (RFC 3339); default the current time.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    /// One row per contact with its lead's columns.
    Csv,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Write to a file instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Only the leads matching this search query (CSV).
    #[arg(long, short)]
    pub query: Option<String>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A .jsonl file (canonical) or a .csv/.tsv/.txt file (mapped columns).
    pub file: PathBuf,
    /// JSONL: create statuses and custom fields lead lines use that neither the store nor the
    /// file's definition lines define (a file without definitions; types are guessed).
    #[arg(long)]
    pub create_missing: bool,
    /// JSONL: import the valid lines even when some are bad (the exit status is still 1).
    /// Without it a bad line writes nothing.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Check every line and report (CSV: preview the first leads); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// CSV: the column mapping to use (JSON, as written by --save-mapping).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// CSV: write the mapping used (suggested or given) to this file.
    #[arg(long)]
    pub save_mapping: Option<PathBuf>,
    /// CSV: match rows to existing leads by these keys (domain,email,phone,name or none).
    #[arg(long = "match")]
    pub match_on: Option<String>,
    /// CSV: columns the mapping does not name become custom fields or are skipped.
    #[arg(long, value_parser = ["custom", "skip"])]
    pub unknown_columns: Option<String>,
    /// CSV: continue the interrupted import of this file.
    #[arg(long)]
    pub resume: bool,
    /// CSV: rows per transaction.
    #[arg(long, default_value_t = 5000)]
    pub chunk: usize,
}
