//! DDEX DSR flat files (DSRF): tab-separated records grouped in blocks.
//!
//! `#TYPE` lines give each record type's column names; a record type without one uses the
//! layout built in here (taken from the DSRF UGC profile). A sales/usage record (SU..)
//! becomes a ledger line, enriched with the ISRC/title/artist of its block's AS record, the
//! ISWC of its MW record, and the territory, currency and commercial model of the summary
//! record (SY..) it references. Every other record is a declared non-data row. The footer's
//! NumberOfLinesInFile is checked against the lines actually in the file.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::cells::{parse_date, parse_decimal, NumberFormat};
use super::outcome::{ControlCheck, FileImport, NonData, Reject};
use crate::ledger::ids::{parse_isrc, parse_iswc};
use crate::ledger::{
    Currency, IncomeType, LedgerLine, LineFlag, LineKind, Period, SourceRef, StatementKind, Store, Territory,
};

/// Layouts used when the file does not declare a record type with a `#` line.
const BUILTIN_LAYOUTS: &[(&str, &[&str])] = &[
    ("HEAD", &["MessageVersion", "Profile", "ProfileVersion", "MessageId", "MessageCreatedDateTime", "FileNumber", "NumberofFiles", "UsageStartDate", "UsageEndDate", "SenderPartyId", "SenderName", "ServiceDescription", "RecipientPartyId", "RecipientName", "RepresentedRepertoire"]),
    ("SY02", &["SummaryRecordId", "DistributionChannel", "DistributionChannelDPID", "CommercialModel", "UseType", "Territory", "ServiceDescription", "Usages", "Users", "Currency", "NetRevenue", "RightsController", "RightsControllerPartyId", "AllocatedUsages", "AllocatedRevenue", "AllocatedNetRevenue", "RightsType"]),
    ("AS01", &["BlockId", "ResourceReference", "DspResourceId", "ISRC", "Title", "SubTitle", "DisplayArtistName", "DisplayArtistPartyId", "Duration", "ResourceType"]),
    ("MW01", &["BlockId", "DspWorkId", "ISWC", "Title", "SubTitle", "ComposerAuthor", "ComposerAuthorPartyId", "Arranger", "ArrangerPartyId", "MusicPublisher", "MusicPublisherPartyId", "WorkContributor", "WorkContributorPartyId", "DataProvider", "ProprietaryWorkId"]),
    ("RU01", &["BlockId", "SummaryRecordId", "DspReleaseId", "Usages"]),
    ("SU03", &["BlockId", "SalesTransactionId", "SummaryRecordId", "DspReleaseId", "Usages", "NetRevenue", "ValidityPeriodStart", "ValidityPeriodEnd"]),
    ("LI01", &["BlockId", "SummaryRecordId", "RightsController", "RightsControllerProprietaryID", "RightsControllerWorkID", "RightShare%", "RightType", "AllocatedNetRevenue", "AllocatedAmount"]),
    ("FOOT", &["NumberOfLinesInFile", "NumberOfLinesInReport", "NumberOfSummaryRecords", "NumberOfBlocksInFile", "NumberOfBlocksInReport"]),
];

static RECORD_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(HEAD|FOOT|[A-Z]{2}[0-9]{2})(\.[0-9]{2})?$").expect("static regex"));
static PART: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"_(\d+)of(\d+)_").expect("static regex"));

/// `(part, of)` from a DSR file name such as `..._1of2_...`.
pub fn part_of(file_name: &str) -> Option<(u32, u32)> {
    let c = PART.captures(file_name)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

/// The file name with its part number blanked, naming the report a part belongs to.
pub fn report_key(file_name: &str) -> String {
    PART.replace(file_name, "_Nof${2}_").into_owned()
}

/// True when text looks like a DSR flat file (first record is HEAD, tab-separated).
pub fn looks_like_dsrf(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').starts_with("HEAD\t")
}

#[derive(Default)]
struct Record {
    fields: BTreeMap<String, String>,
}

impl Record {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

fn offering(model: &str) -> String {
    match model {
        "AdvertisementSupportedModel" => "ad_supported".into(),
        "SubscriptionModel" => "subscription".into(),
        "PayAsYouGoModel" => "pay_as_you_go".into(),
        "FreeOfChargeModel" => "free".into(),
        other => other.to_lowercase(),
    }
}

fn income_type(use_type: &str) -> IncomeType {
    let u = use_type.to_lowercase();
    if u.contains("download") {
        IncomeType::Download
    } else if u.contains("stream") || u.contains("play") {
        IncomeType::Stream
    } else {
        IncomeType::Other
    }
}

pub fn import_dsrf(file: &str, text: &str, profile: &str) -> FileImport {
    let mut out = FileImport {
        file: file.to_string(),
        profile: profile.to_string(),
        format: "dsrf".into(),
        encoding: Some("UTF-8".into()),
        delimiter: Some("\t".into()),
        ..Default::default()
    };
    let mut layouts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut head = Record::default();
    let mut summaries: BTreeMap<String, Record> = BTreeMap::new();
    let mut blocks: BTreeMap<String, (Record, Record)> = BTreeMap::new(); // AS, MW
    let mut footer: Option<(u64, Record)> = None;
    let lines: Vec<&str> = text.split('\n').collect();
    let physical_lines = if text.is_empty() {
        0
    } else if text.ends_with('\n') {
        lines.len() - 1
    } else {
        lines.len()
    };
    let nf = NumberFormat::default();

    for (i, raw) in lines.iter().take(physical_lines).enumerate() {
        let number = i as u64 + 1;
        let src = SourceRef::new(file, None, number);
        let line = raw.trim_end_matches('\r');
        out.rows_read += 1;
        if line.trim().is_empty() {
            out.nondata.push(NonData { source: src, reason: "blank row".into() });
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if let Some(declared) = fields[0].strip_prefix('#') {
            layouts.insert(declared.to_string(), fields[1..].iter().map(|s| s.to_string()).collect());
            out.nondata.push(NonData { source: src, reason: "DSR record layout (#)".into() });
            continue;
        }
        let rtype = fields[0];
        let Some(caps) = RECORD_TYPE.captures(rtype) else {
            out.rejects.push(Reject {
                source: src.with_column("A"),
                reason: format!("'{rtype}' is not a DSR record type"),
                currency: None,
                amounts: BTreeMap::new(),
            });
            continue;
        };
        let base = caps[1].to_string();
        let names: Option<Vec<String>> = layouts.get(rtype).or_else(|| layouts.get(&base)).cloned().or_else(|| {
            BUILTIN_LAYOUTS.iter().find(|(t, _)| *t == base).map(|(_, n)| n.iter().map(|s| s.to_string()).collect())
        });
        let record = Record {
            fields: names
                .iter()
                .flatten()
                .zip(fields[1..].iter())
                .map(|(n, v)| (n.clone(), v.to_string()))
                .collect(),
        };
        let reason = match &base[..2] {
            "HE" => {
                head = record;
                "DSR header (HEAD)"
            }
            "FO" => {
                footer = Some((number, record));
                "DSR footer (FOOT)"
            }
            "SY" => {
                if let Some(id) = record.get("SummaryRecordId").map(str::to_string) {
                    summaries.entry(id).or_insert(record);
                }
                "DSR summary record (SY)"
            }
            "AS" => {
                if let Some(id) = record.get("BlockId").map(str::to_string) {
                    blocks.entry(id).or_default().0 = record;
                }
                "DSR sound recording (AS)"
            }
            "MW" => {
                if let Some(id) = record.get("BlockId").map(str::to_string) {
                    blocks.entry(id).or_default().1 = record;
                }
                "DSR musical work (MW)"
            }
            "RU" => "DSR release usage (RU)",
            "LI" => "DSR licensor allocation (LI)",
            "SU" => {
                let result = if names.is_none() {
                    Err(("A".to_string(), format!("record type {rtype} has no layout (no #{rtype} line in the file)")))
                } else {
                    sales_line(file, number, profile, &record, &head, &summaries, &blocks, nf)
                };
                match result {
                    Ok(line) => out.lines.push(line),
                    Err((column, reason)) => {
                        let currency = record
                            .get("SummaryRecordId")
                            .and_then(|id| summaries.get(id))
                            .and_then(|s| s.get("Currency"))
                            .and_then(Currency::parse);
                        let mut amounts = BTreeMap::new();
                        if let Some(v) = record.get("NetRevenue").and_then(|v| parse_decimal(v, nf).ok()) {
                            amounts.insert("net".to_string(), v);
                        }
                        out.rejects.push(Reject { source: src.with_column(column), reason, currency, amounts });
                    }
                }
                continue;
            }
            _ => "DSR record (other)",
        };
        out.nondata.push(NonData { source: src, reason: reason.into() });
    }
    if let Some((number, foot)) = footer {
        let stated = foot.get("NumberOfLinesInFile").and_then(|v| parse_decimal(v, nf).ok());
        if let Some(stated) = stated {
            let computed = rust_decimal::Decimal::from(physical_lines as u64);
            out.controls.push(ControlCheck {
                source: SourceRef::new(file, None, number).with_column("B"),
                field: "lines".into(),
                currency: None,
                stated,
                computed: Some(computed),
                ok: Some(stated == computed),
                note: None,
            });
        }
    }
    if let Some((part, of)) = part_of(file).filter(|(_, of)| *of > 1) {
        out.notes.push(format!("DSR part {part} of {of}"));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn sales_line(
    file: &str,
    number: u64,
    profile: &str,
    su: &Record,
    head: &Record,
    summaries: &BTreeMap<String, Record>,
    blocks: &BTreeMap<String, (Record, Record)>,
    nf: NumberFormat,
) -> Result<LedgerLine, (String, String)> {
    let col = |name: &str| name.to_string();
    let summary_id = su.get("SummaryRecordId").ok_or((col("SummaryRecordId"), "no SummaryRecordId".into()))?;
    let summary = summaries
        .get(summary_id)
        .ok_or((col("SummaryRecordId"), format!("summary record {summary_id} is not in the file")))?;
    let currency_text = summary.get("Currency").ok_or((col("Currency"), format!("summary record {summary_id} has no currency")))?;
    let currency = Currency::parse(currency_text)
        .ok_or((col("Currency"), format!("'{currency_text}' is not an ISO 4217 currency code")))?;
    let mut line = LedgerLine::new(SourceRef::new(file, None, number), profile, StatementKind::Dsp, LineKind::Income, currency);
    line.units = su
        .get("Usages")
        .map(|v| parse_decimal(v, nf).map_err(|e| (col("Usages"), e)))
        .transpose()?;
    line.net = Some(
        su.get("NetRevenue")
            .map(|v| parse_decimal(v, nf).map_err(|e| (col("NetRevenue"), e)))
            .transpose()?
            .ok_or((col("NetRevenue"), "required net is missing".to_string()))?,
    );
    let day = |v: &str, name: &str| parse_date(v, None).map_err(|e| (col(name), e));
    line.sale_period = match (su.get("ValidityPeriodStart"), su.get("ValidityPeriodEnd")) {
        (Some(a), Some(b)) => Period::range(day(a, "ValidityPeriodStart")?, day(b, "ValidityPeriodEnd")?),
        _ => match (head.get("UsageStartDate"), head.get("UsageEndDate")) {
            (Some(a), Some(b)) => Period::range(day(a, "UsageStartDate")?, day(b, "UsageEndDate")?),
            _ => None,
        },
    };
    line.reporting_date = head.get("MessageCreatedDateTime").and_then(|v| parse_date(v.get(..10).unwrap_or(v), None).ok());
    if let Some(sender) = head.get("SenderName") {
        let store = Store::parse(sender);
        if !store.known {
            line.flags.push(LineFlag::UnknownStore(sender.to_string()));
        }
        line.store = Some(store.id.into());
    }
    if let Some(t) = summary.get("Territory") {
        match Territory::parse(t) {
            Some(territory) => line.territory = Some(territory),
            None => line.flags.push(LineFlag::UnknownTerritory(t.to_string())),
        }
    }
    line.offering = summary.get("CommercialModel").map(|m| offering(m).into());
    line.sale_type = summary.get("UseType").map(|t| (*t).into());
    line.income_type = Some(summary.get("UseType").map(income_type).unwrap_or(IncomeType::Other));
    if let Some(description) = summary.get("ServiceDescription").or_else(|| head.get("ServiceDescription")) {
        line.details_mut().description = Some((*description).into());
    }
    if let Some((resource, work)) = su.get("BlockId").and_then(|b| blocks.get(b)) {
        if let Some(isrc) = resource.get("ISRC") {
            match parse_isrc(isrc) {
                Ok(code) => line.isrc = Some(code.into()),
                Err(_) => line.flags.push(LineFlag::InvalidIsrc(isrc.to_string())),
            }
        }
        line.title = resource.get("Title").map(|t| (*t).into());
        line.artist = resource.get("DisplayArtistName").map(|t| (*t).into());
        if let Some(iswc) = work.get("ISWC") {
            match parse_iswc(iswc) {
                Ok(code) => line.details_mut().iswc = Some(code.into()),
                Err(_) => line.flags.push(LineFlag::InvalidIswc(iswc.to_string())),
            }
        }
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_numbers_and_report_key() {
        let f = "DSR_X_Y_AdSupport_2015-02_AU_1of2_20150723T092522.tsv";
        assert_eq!(part_of(f), Some((1, 2)));
        assert_eq!(report_key(f), "DSR_X_Y_AdSupport_2015-02_AU_Nof2_20150723T092522.tsv");
    }

    #[test]
    fn sales_record_becomes_a_line() {
        let text = "HEAD\tdsrf/30\tUGCProfile\t1.1\t1\t2016-01-21T15:09:26Z\t1\t1\t2015-10-01\t2015-12-31\tP\tYouTube\tAdSupport-music\tR\tTEST\tX\n\
SY02.01\t1\t\t\tAdvertisementSupportedModel\tStream\tIS\tAdSupport-music\t10\t\tUSD\t4.05\tPUB_2\t\t5\t0.0\t0.0\tPerformingRight\n\
AS01\t1\tA9\tA9\tUSSM19803037\tSexual Healing\t\tMarvin Gaye\t\tPT0H0M0S\tSoundRecording\n\
SU03.01\t1\tU1\t1\tA9\t7810\t2.0\t20151001\t20151231\n\
SU03.01\t1\tU2\t9\tA9\t1\t1.0\t20151001\t20151231\n\
FOOT\t6\n";
        let r = import_dsrf("x.tsv", text, "ddex-dsr");
        assert_eq!(r.rows_read, 6);
        assert_eq!(r.lines.len(), 1);
        let l = &r.lines[0];
        assert_eq!(l.isrc.as_deref(), Some("USSM19803037"));
        assert_eq!(l.net.unwrap().to_string(), "2.0");
        assert_eq!(l.units.unwrap().to_string(), "7810");
        assert_eq!(l.sale_period.unwrap().to_string(), "2015-Q4");
        assert_eq!(l.territory.as_ref().unwrap().code(), "IS");
        assert_eq!(l.store.as_deref(), Some("youtube_content_id"));
        assert_eq!(r.rejects.len(), 1);
        assert!(r.rejects[0].reason.contains("summary record 9"));
        assert_eq!(r.rejects[0].amounts["net"].to_string(), "1.0");
        assert_eq!(r.nondata.len(), 4);
        assert!(r.rows_balance());
        assert_eq!(r.control_totals_ok(), Some(true));
    }
}
