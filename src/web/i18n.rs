//! The pages' two languages: Chinese (zh-CN) by default, English on request. Every label is a
//! field of a words struct made by [`words!`], so a label missing in one language does not
//! compile.

use crate::words;
pub use crate::words::{Lang, LANG_COOKIE};

words! {
    /// Labels every page shares: navigation, buttons, common column names.
    pub struct Common {
        app_name: "一卡通收费管理" / "onecard fee collection",
        skip_to_content: "跳到正文" / "Skip to content",
        nav_label: "主导航" / "Main navigation",
        nav_today: "今日" / "Today",
        nav_approvals: "待审批" / "Approvals",
        nav_payments: "缴费查询" / "Payments",
        nav_reconciliation: "对账" / "Reconciliation",
        nav_days: "日结" / "Day close",
        nav_remittances: "缴库" / "Remittances",
        nav_ledger: "账簿" / "Ledger",
        nav_catalogue: "收费目录" / "Fee catalogue",
        nav_departments: "部门与窗口" / "Departments",
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
        colon: "：" / ": ",
        open_paren: "（" / " (",
        close_paren: "）" / ")",
        full_stop: "。" / ". ",
        sign_gap: "　　" / "    ",
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
