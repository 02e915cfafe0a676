//! The pages' two languages: Chinese (zh-CN) by default, English on request. Every label is a
//! field of a words struct made by [`words!`], so a label missing in one language does not
//! compile.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文 (the default).
    Zh,
    /// English.
    En,
}

/// The cookie that keeps the chosen language.
pub const LANG_COOKIE: &str = "onecard_lang";

impl Lang {
    /// From the cookie's value; anything else is Chinese.
    pub fn from_cookie(value: Option<&str>) -> Lang {
        match value {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }
}

/// Declares a struct of labels with a Chinese and an English instance:
///
/// ```text
/// words! { pub struct TodayWords { title: "今日" / "Today", } }
/// ```
///
/// and `TodayWords::of(lang)`.
#[macro_export]
macro_rules! words {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($field:ident: $zh:literal / $en:literal,)* }) => {
        $(#[$m])*
        #[allow(missing_docs)]
        #[derive(Debug)]
        $vis struct $name { $(pub $field: &'static str,)* }
        impl $name {
            /// 简体中文.
            pub const ZH: $name = $name { $($field: $zh,)* };
            /// English.
            pub const EN: $name = $name { $($field: $en,)* };
            /// The labels in `lang`.
            pub fn of(lang: $crate::web::i18n::Lang) -> &'static $name {
                match lang {
                    $crate::web::i18n::Lang::Zh => &Self::ZH,
                    $crate::web::i18n::Lang::En => &Self::EN,
                }
            }
        }
    };
}

words! {
    /// Labels every page shares: navigation, buttons, common column names.
    pub struct Common {
        app_name: "一卡通收费管理" / "onecard fee collection",
        skip_to_content: "跳到正文" / "Skip to content",
        nav_label: "主导航" / "Main navigation",
        nav_today: "今日" / "Today",
        nav_payments: "缴费查询" / "Payments",
        nav_reconciliation: "对账" / "Reconciliation",
        nav_days: "日结" / "Day close",
        nav_remittances: "缴库" / "Remittances",
        nav_ledger: "账簿" / "Ledger",
        nav_catalogue: "收费目录" / "Fee catalogue",
        nav_accounts: "科目设置" / "Accounts",
        nav_audit: "审计日志" / "Audit log",
        nav_report: "日报表" / "Daily report",
        nav_month: "月报表" / "Monthly report",
        nav_concessions: "优惠减免" / "Concessions",
        nav_refunds: "退款审批" / "Refunds",
        nav_access: "用户与令牌" / "Users and tokens",
        signed_in_as: "当前用户" / "Signed in as",
        sign_out: "退出" / "Sign out",
        sign_in: "登录" / "Sign in",
        sign_in_title: "工作人员登录" / "Staff sign-in",
        user_name: "用户名" / "User name",
        password: "密码" / "Password",
        signed_out: "已安全退出。" / "You have signed out.",
        bad_credentials: "用户名或密码错误。" / "The name or password is wrong.",
        account_locked: "连续输错次数过多，账户已锁定至（北京时间）" / "Too many failed attempts; the account is locked until (Beijing time)",
        sign_in_missing: "请填写用户名和密码。" / "Enter your name and password.",
        language: "语言" / "Language",
        date: "日期" / "Date",
        business_date: "业务日期" / "Business date",
        show: "查看" / "Show",
        export_csv: "导出 CSV" / "Export CSV",
        export_xlsx: "导出 Excel" / "Export Excel",
        print: "打印" / "Print",
        nothing_here: "暂无记录。" / "Nothing here.",
        total: "合计" / "Total",
        count: "笔数" / "Count",
        amount: "金额（元）" / "Amount (CNY)",
        status: "状态" / "Status",
        actions: "操作" / "Actions",
        back: "返回" / "Back",
        home: "回到今日" / "Back to today",
        error_title: "未能完成" / "Could not be done",
        error_code: "错误代码" / "Error code",
        form_expired: "表单已过期，请返回重新提交。" / "The form has expired; go back and submit it again.",
        not_allowed: "当前角色无权进行此操作。" / "Your role may not do this.",
        working: "正在处理" / "Working",
        job_done: "已完成" / "Done",
        job_failed: "失败" / "Failed",
        job_refresh_hint: "页面每秒自动刷新；也可以离开，工作会继续。" / "This page refreshes every second; you may leave, the work goes on.",
        job_unknown: "找不到该任务（可能已过期）。请在相关页面查看结果。" / "No such task (it may have expired). Check the result on its page.",
        job_interrupted: "任务中断：运行它的服务实例已停止。工作要么已完整提交，要么完全没有生效；请在相关页面查看结果，需要时重新发起。" / "Interrupted: the service instance running it stopped. The work either committed whole or not at all; check the result on its page and start it again if needed.",
        job_result: "查看结果" / "See the result",
        next_page: "下一页" / "Next page",
        role_clerk: "窗口收费员" / "Counter clerk",
        role_finance: "财务人员" / "Finance",
        role_supervisor: "主管" / "Supervisor",
        role_auditor: "审计" / "Auditor",
        role_treasury: "国库系统" / "Treasury",
        role_admin: "管理员" / "Administrator",
        channel_bank_card: "银行卡" / "Bank card",
        channel_one_card: "一卡通" / "One-card",
        yes: "是" / "Yes",
        no: "否" / "No",
    }
}

impl Common {
    /// A role's name.
    pub fn role(&self, role: crate::auth::Role) -> &'static str {
        use crate::auth::Role;
        match role {
            Role::Clerk => self.role_clerk,
            Role::Finance => self.role_finance,
            Role::Supervisor => self.role_supervisor,
            Role::Auditor => self.role_auditor,
            Role::Treasury => self.role_treasury,
            Role::Admin => self.role_admin,
        }
    }

    /// A payment channel's name (the stored name when unknown).
    pub fn channel<'a>(&self, stored: &'a str) -> &'a str {
        match stored {
            "bank_card" => self.channel_bank_card,
            "one_card" => self.channel_one_card,
            other => other,
        }
    }
}

/// The Chinese title of a problem code; the English title is the problem's own.
pub fn problem_title_zh(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_request" => "输入有误",
        "bad_request" => "请求无法读取",
        "not_found" => "未找到",
        "forbidden" => "无权操作",
        "unauthorized" => "需要登录",
        "token_revoked" => "令牌已吊销",
        "token_expired" => "令牌已过期",
        "day_closed" => "该日已结账",
        "day_not_closed" => "该日尚未结账",
        "day_not_over" => "该业务日尚未结束",
        "open_exceptions" => "仍有未处理的对账差异",
        "settlement_not_posted" => "结算款尚未入账",
        "exception_not_open" => "该差异已处理",
        "not_reconciled" => "该日尚未对账",
        "unknown_payment" => "未知的缴费",
        "unknown_settlement_record" => "未知的清算明细",
        "unknown_booking" => "未知的银行流水",
        "not_of_this_day" => "不属于该差异的业务日",
        "already_matched" => "已被匹配",
        "match_amounts_differ" => "金额不一致，不能匹配",
        "write_off_not_allowed" => "不能核销",
        "carried_automatically" => "资金到账情况将自动结转核对",
        "not_a_timing_difference" => "不属于时间差",
        "booking_not_a_credit" => "该银行流水不是收款账户的入账",
        "already_settled" => "已结算入账",
        "same_person" => "须由另一人审批",
        "already_remitted" => "该日已缴库",
        "nothing_to_remit" => "没有应缴款项",
        "remittance_stale" => "应缴数据已变化，请重新编制",
        "remittance_not_approved" => "缴库单尚未审批",
        "already_acknowledged" => "国库已确认",
        "amount_mismatch" => "金额不符",
        "unknown_concession" => "未知的优惠政策",
        "nothing_to_charge" => "没有应收金额",
        "payable_inconsistent" => "应缴数据不一致",
        "void_not_allowed" => "不能作废",
        "refund_not_allowed" => "不能退款",
        "refund_exceeds_payment" => "退款超过原缴费金额",
        "not_requester" => "只有申请人或财务可以撤销",
        "idempotency_key_reused" => "该幂等键已用于其他请求",
        "already_reversed" => "已冲销",
        "not_manual" => "只有手工分录可在此冲销",
        "concurrent_change" => "数据已被他人修改，请刷新后重试",
        "retroactive_change" => "不能追溯修改",
        "version_out_of_order" => "版本顺序有误",
        "unknown_revenue_subject" => "未知的收入科目",
        "unknown_account" => "未知的科目",
        "account_exists" => "科目已存在",
        "parent_not_open" => "该上级科目不能开设明细科目",
        "account_not_postable" => "该科目不能记账",
        "fund_crossing" => "不得跨资金记账",
        "revenue_netting" => "收入不得坐支抵扣",
        "invalid_entry" => "分录有误",
        "invalid_amount" => "金额有误",
        "file_corrupt" => "文件内容有误",
        "unknown_spec" => "未知的文件格式",
        "payload_too_large" => "文件过大",
        "request_timeout" => "请求超时",
        "rate_limited" => "请求过于频繁",
        "database_unavailable" | "ledger_unavailable" | "shutting_down" => "服务暂不可用",
        "busy" => "系统繁忙，请稍后重试",
        "conflict" => "他人已先完成同一操作，请刷新",
        "form_expired" => "表单已过期",
        "chain_broken" => "账链校验未通过",
        "internal" => "内部错误",
        "unsupported_media_type" => "不支持的内容类型",
        _ => return None,
    })
}
