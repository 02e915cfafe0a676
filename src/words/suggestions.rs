//! The reconciliation's suggested actions: each a stable code (stored in
//! `recon_exceptions.action_code`, sent as `suggested_action_code`) with its sentence in both
//! languages, and the English sentence runs stored before the codes (migration 000029 maps
//! them; [`Suggestion::from_stored`] reads any row it did not).

use super::{Lang, Said};

macro_rules! suggestions {
    (@stored $en:literal) => { $en };
    (@stored $en:literal, $stored:literal) => { $stored };
    ($($(#[$m:meta])* $variant:ident = $code:literal: $zh:literal / $en:literal $(, stored $stored:literal)?;)*) => {
        /// A suggested action for an exception.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Suggestion { $($(#[$m])* $variant,)* }

        impl Suggestion {
            /// Every suggested action.
            pub const ALL: &'static [Suggestion] = &[$(Suggestion::$variant,)*];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self { $(Suggestion::$variant => $code,)* }
            }

            /// The sentence in both languages.
            pub fn said(self) -> Said {
                match self { $(Suggestion::$variant => Said { zh: $zh, en: $en },)* }
            }

            /// The English sentence runs stored before the codes (the current English one
            /// when it did not change).
            pub fn stored_sentence(self) -> &'static str {
                match self { $(Suggestion::$variant => suggestions!(@stored $en $(, $stored)?),)* }
            }
        }
    };
}

suggestions! {
    /// Amounts differ: compare the slips, correct or claim.
    CompareAmounts = "compare_amounts":
        "核对票据和终端签购单与收单机构明细；若账簿有误，以冲正分录更正，否则向收单机构追索差额。"
        / "Compare the receipt and terminal slip with the acquirer's line; if the ledger is wrong correct it with a reversing entry, otherwise claim the difference from the acquirer (bank_claim).";
    /// Not settled: check the terminal batch.
    CheckTerminalBatch = "check_terminal_batch":
        "当日及次日清算文件均无此笔：核实终端批次已结算并询问收单机构；若持卡人未被扣款，冲销该笔缴费。"
        / "Not in the acquirer's files of the day or the next: check the terminal batch was settled and ask the acquirer; if the card was never charged, reverse the payment.";
    /// Settled but not in the ledger: find the counter record.
    FindCounterRecord = "find_counter_record":
        "收单机构清算了账簿中没有的交易：查找窗口记录并手工匹配，或补记缴费；若非本中心交易，向收单机构追索。"
        / "The acquirer settled a transaction the ledger does not have: find the counter record and manual_match it, or record the payment; if it is not ours, bank_claim.";
    /// A refund settled that the ledger has not approved.
    ApproveRefundOrClaim = "approve_refund_or_claim":
        "收单机构清算了账簿未审批的退款：查找退款申请并审批，或向收单机构追索。"
        / "The acquirer settled a refund the ledger has not approved: find the refund request and approve it, or bank_claim the amount from the acquirer.";
    /// An acquirer adjustment.
    AskAdjustmentReason = "ask_adjustment_reason":
        "收单机构调账：向收单机构询问原因，然后入账或追索。"
        / "Acquirer adjustment: ask the acquirer for the reason, then book it or bank_claim it.",
        stored "Acquirer adjustment (调账): ask the acquirer for the reason, then book it or bank_claim it.";
    /// Settled twice.
    ClaimDuplicate = "claim_duplicate":
        "收单机构重复清算同一笔交易：向收单机构追索重复款项。"
        / "The acquirer settled the same transaction twice: bank_claim the duplicate from the acquirer.";
    /// Voided but settled.
    ReverseVoidSettled = "reverse_void_settled":
        "账簿已作废但收单机构仍清算了该笔消费：请收单机构冲正，或向持卡人退款。"
        / "Voided in the ledger but the acquirer settled the purchase: ask the acquirer to reverse it (bank_claim), or refund the cardholder.";
    /// A credit differs from its file's net.
    ClaimCashDifference = "claim_cash_difference":
        "入账金额与文件净额不符：与收单机构核对手续费和调整，追索差额。"
        / "The credit differs from the file's net: check fees and adjustments with the acquirer and bank_claim the difference.";
    /// No credit within the horizon.
    ClaimMissingCredit = "claim_missing_credit":
        "超过到账期限仍未收到该文件的款项：向收单机构和银行提出索赔；索赔持续跟踪，直至款项到账。"
        / "No credit for this file within the credit horizon: raise a bank claim (bank_claim) with the acquirer and the bank; the claim stays tracked until the credit arrives.";
    /// The wording runs stored before credits were carried forward.
    CheckNextStatement = "check_next_statement":
        "收款账户未收到该文件的款项：核对下一期对账单或催收收单机构。"
        / "No credit for this file on the collection account: check the next statement (accept_timing) or chase the acquirer.";
    /// A settlement credit that pays no imported file.
    ImportOrReturn = "import_or_return":
        "一笔不对应任何已导入文件的清算入账：导入其所指文件，或查明付款人并退回款项。"
        / "A settlement credit that pays no imported file: import the file it names, or identify the payer and return the money.";
    /// A credit nothing explains.
    IdentifyPayer = "identify_payer":
        "一笔无法由清算文件、手续费补足或退库解释的收入户入账：根据银行回单查明付款人，入账或退回。"
        / "A credit to the collection account that no settlement file, fee top-up or treasury return explains: identify the payer from the bank's advice; book it or return it.";
    /// A debit nothing explains: a supervision finding.
    ReportUnexplainedDebit = "report_unexplained_debit":
        "监督发现：资金未经缴库离开收入户（疑似坐支）。取得银行借记回单及授权人，报告监督部门，并要求银行冲回。"
        / "SUPERVISION FINDING: money left the collection account without a remittance (possible spending of revenue before remittance). Obtain the bank's debit advice and who authorised it; report it to supervision and have the bank reverse it (bank_claim).",
        stored "SUPERVISION FINDING: money left the collection account without a remittance (possible 坐支). Obtain the bank's debit advice and who authorised it; report it to supervision and have the bank reverse it (bank_claim).";
    /// A bank reversal.
    ObtainReversalAdvice = "obtain_reversal_advice":
        "一笔冲正了清算入账或找不到原交易的银行冲正：取得银行说明，追索款项或人工匹配。"
        / "A bank reversal that undoes a settlement credit, or nothing the run can see: obtain the bank's advice; claim the amount or match it by hand.";
    /// Anything else.
    Investigate = "investigate": "调查核实。" / "Investigate.", stored "investigate";
}

impl Suggestion {
    /// The action of a stored code.
    pub fn parse(code: &str) -> Option<Suggestion> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// The action a row stored before the codes names by its English sentence.
    pub fn from_stored(sentence: &str) -> Option<Suggestion> {
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.stored_sentence() == sentence)
    }

    /// The sentence in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        self.said().of(lang)
    }
}

impl serde::Serialize for Suggestion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}
