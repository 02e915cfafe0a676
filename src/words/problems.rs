//! Problem titles (both languages) and Chinese details by code. The English detail is the
//! typed error's own sentence; the Chinese one is the template here, filled from the problem's
//! members (`{field}`, `{business_date}`…), never translated from the English text.

use super::Said;

/// The words of one problem code.
#[derive(Debug)]
pub struct ProblemWords {
    /// The stable code.
    pub code: &'static str,
    /// The title.
    pub title: Said,
    /// The Chinese detail: a template over the problem's members (see [`super::fill`]).
    pub detail_zh: &'static str,
}

/// The entry of `code`.
pub fn problem(code: &str) -> Option<&'static ProblemWords> {
    PROBLEMS.iter().find(|p| p.code == code)
}

macro_rules! problems {
    ($($code:literal: $tzh:literal / $ten:literal, $dzh:literal;)*) => {
        /// Every problem code the service answers.
        pub const PROBLEMS: &[ProblemWords] = &[
            $(ProblemWords { code: $code, title: Said { zh: $tzh, en: $ten }, detail_zh: $dzh },)*
        ];
    };
}

problems! {
    "invalid_request": "输入有误" / "The request does not fit the schema", "请求内容不符合要求[：字段 {field}]。";
    "bad_request": "请求无法读取" / "Bad request", "请求无法读取或处理。";
    "not_found": "未找到" / "Not found", "找不到所请求的资源。";
    "forbidden": "无权操作" / "Not allowed for this role", "当前角色无权进行此操作。";
    "unauthorized": "需要登录" / "Authentication required", "需要有效的访问令牌。";
    "token_revoked": "令牌已吊销" / "Token revoked", "该令牌已被吊销，请向管理员申请新令牌。";
    "token_expired": "令牌已过期" / "Token expired", "该令牌已过期，请向管理员申请新令牌。";
    "method_not_allowed": "不支持该请求方法" / "Method not allowed", "该资源不接受此请求方法。";
    "request_timeout": "请求超时" / "Request timeout", "请求到达时间过长。";
    "payload_too_large": "文件过大" / "Payload too large", "请求内容超过上限[（{limit_bytes} 字节）]。";
    "unsupported_media_type": "不支持的内容类型" / "Unsupported media type", "请以 application/json 发送。";
    "rate_limited": "请求过于频繁" / "Too many requests", "请求过于频繁，请稍后再试。";
    "unavailable": "服务暂不可用" / "Service unavailable", "服务暂不可用，请稍后再试。";
    "database_unavailable": "服务暂不可用" / "Database unavailable", "数据库暂无响应，请稍后再试。";
    "ledger_unavailable": "服务暂不可用" / "Ledger unavailable", "账簿暂不可用，未写入任何内容，请重试。";
    "shutting_down": "服务暂不可用" / "Shutting down", "服务正在停止，未写入任何内容。";
    "busy": "系统繁忙，请稍后重试" / "Busy", "另一请求正占用所需数据，未写入任何内容，请重试。";
    "conflict": "他人已先完成同一操作，请刷新" / "Done by another request", "另一请求刚刚完成了同一操作，请刷新查看。";
    "internal": "内部错误" / "Internal error", "服务未能完成请求，已记录日志[（事件编号 {incident}）]。";
    "form_expired": "表单已过期" / "Form expired", "表单已过期，请返回重新提交。";
    "chain_broken": "账链校验未通过" / "The ledger does not verify", "账簿哈希链校验未通过[，首个异常分录 {first_bad_entry}]。";
    "day_closed": "该日已结账" / "The business day is closed", "[业务日 {business_date} ]已结账，不再接受该日的记账或对账。";
    "day_not_closed": "该日尚未结账" / "Day not closed", "该业务日尚未结账。";
    "day_not_over": "该业务日尚未结束" / "The day is not over", "该业务日尚未结束，不能结账。";
    "open_exceptions": "仍有未处理的对账差异" / "Open reconciliation exceptions", "该日仍有[ {open_count} 笔]对账差异未处理或待复核，处理后才能结账。";
    "not_reconciled": "该日尚未对账" / "The day has not been reconciled", "该日尚无对账结果，请先对账。";
    "settlement_not_posted": "结算款尚未入账" / "Settlement entry not posted", "清算款项的入账分录未能记账。";
    "exception_not_open": "该差异已处理" / "Exception not in a state for this", "该对账差异当前状态不允许此操作（已处理、已被重新对账替代或不在待复核状态）。";
    "unknown_payment": "未知的缴费" / "Unknown payment", "找不到所指的缴费记录[（字段 {field}）]。";
    "unknown_settlement_record": "未知的清算明细" / "Unknown settlement line", "找不到所指的清算明细[（字段 {field}）]。";
    "unknown_booking": "未知的银行流水" / "Unknown statement booking", "找不到所指的银行流水[（字段 {field}）]。";
    "not_of_this_day": "不属于该差异的业务日" / "Not of the exception's day", "所指记录不属于该差异的业务日。";
    "already_matched": "已被匹配" / "Matched already", "所指记录已与其他记录匹配。";
    "match_amounts_differ": "金额不一致，不能匹配" / "The amounts differ", "金额不一致，不能匹配[：账簿 {ledger_amount} 元，对方 {other_amount} 元]；差额请核销或追索。";
    "write_off_not_allowed": "不能核销" / "Cannot be written off", "只有短款可以核销；有利于本中心的差额应退回或追索。";
    "carried_automatically": "资金到账情况将自动结转核对" / "Carried forward automatically", "文件款项未到账的情况由后续对账自动结转核对，不能作为时间差接受。";
    "not_a_timing_difference": "不属于时间差" / "Not a timing difference", "后续业务日并不能消除该差额，不能作为时间差接受。";
    "booking_not_a_credit": "该银行流水不是收款账户的入账" / "Not a credit to the collection account", "所指银行流水不是收款账户的入账。";
    "already_settled": "已结算入账" / "Settled already", "该笔款项已结算入账。";
    "same_person": "须由另一人审批" / "A second person is needed", "提出申请的人不能自行审批，须由另一人完成。";
    "already_remitted": "该日已缴库" / "Already remitted", "该日款项已缴库[（缴库单 {remittance_id}）]。";
    "nothing_to_remit": "没有应缴款项" / "Nothing to remit", "该日没有应缴国库的款项。";
    "remittance_stale": "应缴数据已变化，请重新编制" / "Remittance out of date", "编制后应缴数据已变化，请重新编制缴库单。";
    "remittance_not_approved": "缴库单尚未审批" / "Remittance not approved", "缴库单尚未审批。";
    "remittance_not_prepared": "缴库单尚未编制" / "Remittance not prepared", "缴库单不在已编制状态。";
    "remittance_rejected": "缴库单已被退回" / "Remittance rejected", "国库已退回该缴库单。";
    "already_acknowledged": "国库已确认" / "Already acknowledged", "国库已确认该缴库单。";
    "amount_mismatch": "金额不符" / "Amount mismatch", "金额与应收金额不符[（字段 {field}）]。";
    "unknown_concession": "未知的优惠政策" / "Unknown concession", "找不到所指的优惠政策[ {concession}]。";
    "nothing_to_charge": "没有应收金额" / "Nothing to charge", "该笔缴费没有应收金额。";
    "payable_inconsistent": "应缴数据不一致" / "Payable inconsistent", "应缴数据前后不一致，请重新编制。";
    "void_not_allowed": "不能作废" / "Cannot be voided", "该笔缴费当前状态不允许作废。";
    "refund_not_allowed": "不能退款" / "Refund not allowed", "该笔缴费当前状态不允许退款。";
    "refund_exceeds_payment": "退款超过原缴费金额" / "Refund exceeds the payment", "退款金额合计超过原缴费金额。";
    "refund_partly_returned": "退款已部分退回" / "Refund partly returned", "该退款已有部分由国库退回，不能再变更。";
    "refund_request_not_offered": "退库申请未提交" / "Refund request not offered", "该退库申请不在已提交国库的状态。";
    "not_requester": "只有申请人或财务可以撤销" / "Not the requester", "只有申请人或财务人员可以撤销该申请。";
    "idempotency_key_reused": "该幂等键已用于其他请求" / "Idempotency key reused", "该幂等键已用于内容不同的另一请求。";
    "idempotency_key_required": "缺少幂等键" / "Idempotency-Key required", "请在请求头 Idempotency-Key 中提供幂等键。";
    "invalid_idempotency_key": "幂等键格式有误" / "Invalid Idempotency-Key", "幂等键须为 1 至 64 个字母、数字、下划线或连字符。";
    "full_card_number": "拒收完整卡号" / "Full card number refused", "不得提交完整卡号，只能提交掩码卡号[（字段 {field}）]。";
    "receipt_series_unavailable": "票据号段不可用" / "No receipt numbers", "没有可用的票据号段，请联系管理员。";
    "unknown_fee_item": "未知或未生效的收费项目" / "Unknown or inactive fee item", "收费项目不存在或在该日未生效[（{fee_code}）]。";
    "unknown_revenue_subject": "未知的收入科目" / "Unknown revenue subject", "收入科目代码不在科目表中[（字段 {field}）]。";
    "retroactive_change": "不能追溯修改" / "A change cannot take effect in the past", "修改不能在过去生效。";
    "version_out_of_order": "版本顺序有误" / "Versions take effect in order", "新版本的生效日期须晚于现行版本。";
    "concurrent_change": "数据已被他人修改，请刷新后重试" / "Changed at the same time", "数据同时被他人修改，请刷新后重试。";
    "already_reversed": "已冲销" / "Already reversed", "该分录已被冲销。";
    "already_posted": "已记账" / "Already posted", "该笔已记账[（分录 {entry_seq}）]。";
    "not_manual": "只有手工分录可在此冲销" / "Only manual entries are reversed", "只有手工分录可以在此冲销[（分录 {seq}）]。";
    "unbalanced": "借贷不平衡" / "The entry does not balance", "分录借贷不平衡[（资金 {fund}）]。";
    "fund_crossing": "不得跨资金记账" / "Value may not cross between the funds", "收入资金与预算资金之间不得相互划转。";
    "revenue_netting": "收入不得坐支抵扣" / "Revenue is booked gross", "收入须全额入账，不得坐支抵扣。";
    "unknown_account": "未知的科目" / "Unknown account", "科目表中没有该科目[ {account}]。";
    "account_exists": "科目已存在" / "The account exists already", "该科目已存在[ {account}]。";
    "parent_not_open": "该上级科目不能开设明细科目" / "The parent takes no new sub-accounts", "该上级科目不能开设明细科目[ {account}]。";
    "account_not_postable": "该科目不能记账" / "Account takes no postings", "该科目不接受记账。";
    "currency_mismatch": "币种与科目不符" / "Wrong currency for the account", "金额币种与科目不符。";
    "invalid_entry": "分录有误" / "Invalid entry", "分录结构有误。";
    "invalid_amount": "金额有误" / "Invalid amount", "金额有误：须为正数，最多两位小数。";
    "reversal_mismatch": "冲销分录须与原分录相反" / "A reversal must mirror its original", "冲销分录须与原分录金额相同、方向相反。";
    "file_corrupt": "文件内容有误" / "File refused as corrupt; nothing of it was stored", "文件内容有误，整份未导入[（第 {line} 行）][（第 {byte} 字节）]。";
    "file_in_use": "文件已用于对账" / "The file was used by a reconciliation run", "该文件已被对账使用，不能撤回。";
    "unknown_spec": "未知的文件格式" / "Unknown settlement spec", "不认识所指的文件格式[ {spec}]。";
    "unknown_department": "未知的执收部门" / "Unknown department", "部门代码[ {department} ]不存在，请管理员先在“部门与窗口”中添加。";
    "unknown_window": "未知的窗口" / "Unknown window", "窗口[ {window} ]不是部门[ {department} ]的窗口，请管理员先在“部门与窗口”中添加。";
    "department_exists": "部门已存在" / "Department exists", "部门[ {department} ]已存在；部门只添加一次，不改名。";
    "window_exists": "窗口已存在" / "Window exists", "部门[ {department} ]已有窗口[ {window}]。";
}
