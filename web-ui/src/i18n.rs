//! The playground's visible strings in both of the course's languages (`zh-CN`, `en`).
//!
//! Every string the page shows goes through [`text`], so a missing translation is a compile
//! error (one match arm per [`Text`] and language), not a blank on the page.

pub use lab_core::lab::Lang;

/// A string the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// The page heading.
    Title,
    /// The one-line introduction under it.
    Intro,
    /// The button that applies the chapter's Deployment and Service.
    ApplyChapter,
    /// The label of the replicas stepper.
    Replicas,
    /// The accessible name of the "−" button.
    ScaleDown,
    /// The accessible name of the "+" button.
    ScaleUp,
    /// The accessible name of the language switch.
    Language,
    /// The cluster map's heading.
    MapTitle,
    /// A pod whose Ready condition is True.
    Ready,
    /// A pod whose Ready condition is not True.
    NotReady,
    /// The label of the kube-proxy mode switch.
    ProxyMode,
    /// The pods table's heading.
    PodsTitle,
    /// The pods table's action column / the delete button.
    DeletePod,
    /// The button that makes a pod's readiness probe fail.
    MakeUnready,
    /// The button that makes a pod's readiness probe pass again.
    MakeReady,
    /// The pods table's column headings.
    ColName,
    /// Pod IP column.
    ColIp,
    /// Status column.
    ColStatus,
    /// Actions column.
    ColActions,
    /// The rules view's heading.
    RulesTitle,
    /// The node picker's label.
    Node,
    /// The Service filter's label.
    ServiceFilter,
    /// The Service filter's "no filter" choice.
    AllServices,
    /// What the rules view shows when a filter leaves nothing.
    NoRules,
    /// The terminal's heading.
    TerminalTitle,
    /// The line under the terminal: what it runs and the keys it knows.
    TerminalHelp,
    /// The accessible name of the terminal's input.
    TerminalInput,
    /// The YAML editor's heading.
    EditorTitle,
    /// The accessible name of the editor's text area.
    EditorLabel,
    /// The button that puts the chapter's manifests in the editor.
    LoadChapter,
    /// The button that applies the editor's text.
    ApplyEditor,
    /// The share section's heading.
    ShareTitle,
    /// The share link itself.
    OpenLink,
    /// Said when a link or the saved state could not be opened.
    ScenarioNotOpened,
    /// The button that forgets the scenario and starts a fresh cluster.
    Reset,
    /// The trace view's heading.
    TraceTitle,
    /// The source picker's label.
    TraceFrom,
    /// The destination field's label.
    TraceTo,
    /// The button that runs a trace.
    TraceRun,
    /// The button that shows the next stage.
    TraceStep,
    /// The button that plays the stages one by one.
    TracePlay,
    /// The button that pauses the playing.
    TracePause,
    /// The button that shows every stage at once.
    TraceAll,
    /// Said for a name traced from a node or from outside.
    TraceNameFromOutside,
    /// Said for a destination that is not NAME:PORT or IP:PORT.
    TraceBadDestination,
    /// The source picker's group of outside clients ("outside, via kind-worker").
    TraceOutsideVia,
    /// The DNS view's heading.
    DnsTitle,
    /// The pod picker's label.
    DnsFromPod,
    /// The name field's label.
    DnsName,
    /// The type picker's label.
    DnsType,
    /// The type picker's "tool's default" choice.
    DnsDefaultType,
    /// The button that asks.
    DnsAsk,
    /// The heading of the C library's queries.
    DnsWalk,
    /// The note under dig's panel.
    DnsDigNote,
    /// The guided labs' heading.
    LabsTitle,
    /// The lab picker's label.
    LabPick,
    /// The button that starts the lab on a fresh cluster.
    LabStart,
    /// The button that applies the lab's solution.
    LabSolve,
    /// The goals' heading.
    LabGoals,
    /// The steps' heading.
    LabSteps,
    /// The checks' heading.
    LabChecks,
    /// "expected".
    LabExpected,
    /// "found".
    LabFound,
    /// "likely cause".
    LabCause,
    /// The button that shows a check's hint.
    LabHint,
    /// Said when every check passes.
    LabAllPassed,
    /// Said before the lab is started.
    LabNotStarted,
    /// A check that passed.
    StatusPass,
    /// A check that failed.
    StatusFail,
    /// A check that could not be made.
    StatusError,
    /// Before the rules the last sync removed.
    SyncRemoved,
    /// The scale view's heading.
    ScaleTitle,
    /// What the scale view measures and where.
    ScaleIntro,
    /// The button that starts the measuring.
    ScaleRun,
    /// Said when the worker failed.
    ScaleFailed,
    /// The rules chart's title.
    ScaleRules,
    /// The full-sync chart's title.
    ScaleFullSync,
    /// The one-change chart's title.
    ScaleChange,
    /// The rules-traversed chart's title.
    ScaleTraversed,
    /// The tables' first column heading.
    ScaleServices,
    /// The combined table's caption.
    ScaleChapterCaption,
    /// The chapter's rules row.
    ScaleRowChapterRules,
    /// A measured rules row, before the mode.
    ScaleRowRules,
    /// The chapter's iptables row.
    ScaleRowChapterAddIptables,
    /// The chapter's IPVS row.
    ScaleRowChapterAddIpvs,
    /// A measured one-change row, before the mode.
    ScaleRowChange,
    /// A measured rules-traversed row, before the mode.
    ScaleRowTraversed,
    /// Why the chapter's minutes and hours are not what the page measures.
    ScaleWhy,
    /// The playground's way into the live view (shown when the page is served by the sim).
    LiveEnter,
    /// What the live view is, as the entry's tooltip.
    LiveEnterTitle,
    /// The live view's heading.
    LiveTitle,
    /// What the live view shows.
    LiveIntro,
    /// The label before the API's address.
    LiveApi,
    /// Said when the API is the sim's.
    LiveIsSim,
    /// Said when the API is not the sim's.
    LiveIsOther,
    /// The read-only note.
    LiveReadOnly,
    /// The link back to the playground.
    LiveBack,
    /// Said before the first read.
    LiveLoading,
    /// Before a read's error.
    LiveFetchFailed,
    /// A request with no HTTP answer.
    LiveUnreachable,
    /// A response that is not what was asked for.
    LiveUndecodable,
    /// Before the reason a `?live=` was refused.
    LiveBaseRefused,
    /// `?live=` without a path.
    LiveBaseEmpty,
    /// `?live=` naming another host.
    LiveBaseOtherHost,
    /// `?live=` not starting with `/`.
    LiveBaseNotAPath,
    /// `?live=` with `?`, `#` or spaces.
    LiveBaseBadCharacter,
    /// `?live=` with broken escapes.
    LiveBaseEncoding,
    /// What works, after a refusal.
    LiveBaseExamples,
    /// The namespace picker's label.
    LiveNamespace,
    /// The namespace picker's "all" choice.
    LiveAllNamespaces,
    /// Namespace column.
    ColNamespace,
    /// Type column.
    ColType,
    /// The caption of the predicted rules.
    LivePredicted,
    /// The heading of the node's real rules.
    LiveFoundTitle,
    /// Before the node's rules have been read.
    LiveFoundPending,
    /// Before the error of the node command.
    LiveFoundFailed,
    /// Why no rules are read from the node.
    LiveNotSim,
    /// How to read a kind node's rules instead.
    LiveFoundOnKind,
    /// The verdict when the node has the predicted rules.
    LiveIdentical,
    /// The verdict when it does not.
    LiveDiffers,
    /// The predicted DNS answers' heading.
    LiveDnsTitle,
    /// What the DNS table is.
    LiveDnsNote,
    /// The DNS table's question column.
    ColQuestion,
    /// The DNS table's answer column.
    ColAnswer,
}

/// `text` in `lang`.
pub fn text(lang: Lang, text: Text) -> &'static str {
    use Lang::{En, ZhCn};
    match (text, lang) {
        (Text::Title, En) => "svclab playground",
        (Text::Title, ZhCn) => "svclab 练习场",
        (Text::Intro, En) => {
            "A kind-like cluster running in this page: apply the chapter's manifests, then scale the Deployment and watch the Service's endpoints follow."
        }
        (Text::Intro, ZhCn) => {
            "一个在本页面中运行的类 kind 集群：应用本章的清单，再扩缩 Deployment，观察 Service 的端点随之变化。"
        }
        (Text::ApplyChapter, En) => "apply the chapter's manifests",
        (Text::ApplyChapter, ZhCn) => "应用本章的清单",
        (Text::Replicas, En) => "replicas of deployment/httpd",
        (Text::Replicas, ZhCn) => "deployment/httpd 的副本数",
        (Text::ScaleDown, En) => "scale down by one",
        (Text::ScaleDown, ZhCn) => "减少一个副本",
        (Text::ScaleUp, En) => "scale up by one",
        (Text::ScaleUp, ZhCn) => "增加一个副本",
        (Text::Language, En) => "language",
        (Text::Language, ZhCn) => "语言",
        (Text::MapTitle, En) => "cluster map",
        (Text::MapTitle, ZhCn) => "集群拓扑图",
        (Text::Ready, En) => "Ready",
        (Text::Ready, ZhCn) => "就绪",
        (Text::NotReady, En) => "not ready",
        (Text::NotReady, ZhCn) => "未就绪",
        (Text::ProxyMode, En) => "kube-proxy mode",
        (Text::ProxyMode, ZhCn) => "kube-proxy 模式",
        (Text::PodsTitle, En) => "pods",
        (Text::PodsTitle, ZhCn) => "Pod 列表",
        (Text::DeletePod, En) => "delete",
        (Text::DeletePod, ZhCn) => "删除",
        (Text::MakeUnready, En) => "fail readiness",
        (Text::MakeUnready, ZhCn) => "使就绪探针失败",
        (Text::MakeReady, En) => "pass readiness",
        (Text::MakeReady, ZhCn) => "恢复就绪探针",
        (Text::ColName, En) => "name",
        (Text::ColName, ZhCn) => "名称",
        (Text::ColIp, En) => "pod IP",
        (Text::ColIp, ZhCn) => "Pod IP",
        (Text::ColStatus, En) => "status",
        (Text::ColStatus, ZhCn) => "状态",
        (Text::ColActions, En) => "actions",
        (Text::ColActions, ZhCn) => "操作",
        (Text::RulesTitle, En) => "kube-proxy rules on a node",
        (Text::RulesTitle, ZhCn) => "节点上的 kube-proxy 规则",
        (Text::Node, En) => "node",
        (Text::Node, ZhCn) => "节点",
        (Text::ServiceFilter, En) => "only the rules of",
        (Text::ServiceFilter, ZhCn) => "只看此 Service 的规则",
        (Text::AllServices, En) => "every Service",
        (Text::AllServices, ZhCn) => "全部 Service",
        (Text::NoRules, En) => "no rule of this Service on this node",
        (Text::NoRules, ZhCn) => "此节点上没有该 Service 的规则",
        (Text::TerminalTitle, En) => "terminal",
        (Text::TerminalTitle, ZhCn) => "终端",
        (Text::TerminalHelp, En) => {
            "kubectl get|scale|delete|exec, docker exec NODE iptables-save|ipvsadm -Ln|nft list table ip kube-proxy, clear. Tab completes, ↑/↓ walk the history."
        }
        (Text::TerminalHelp, ZhCn) => {
            "可用：kubectl get|scale|delete|exec、docker exec 节点 iptables-save|ipvsadm -Ln|nft list table ip kube-proxy、clear。Tab 补全，↑/↓ 翻阅历史命令。"
        }
        (Text::TerminalInput, En) => "command line",
        (Text::TerminalInput, ZhCn) => "命令行",
        (Text::EditorTitle, En) => "YAML editor",
        (Text::EditorTitle, ZhCn) => "YAML 编辑器",
        (Text::EditorLabel, En) => {
            "manifests to apply (YAML or JSON, several documents separated by ---)"
        }
        (Text::EditorLabel, ZhCn) => "要应用的清单（YAML 或 JSON，多个文档用 --- 分隔）",
        (Text::LoadChapter, En) => "load the chapter's manifests",
        (Text::LoadChapter, ZhCn) => "载入本章的清单",
        (Text::ApplyEditor, En) => "kubectl apply",
        (Text::ApplyEditor, ZhCn) => "kubectl apply（应用）",
        (Text::ShareTitle, En) => "share this scenario",
        (Text::ShareTitle, ZhCn) => "分享此场景",
        (Text::OpenLink, En) => "open this link (the box above holds it, to copy)",
        (Text::OpenLink, ZhCn) => "打开此链接（可从上面的文本框复制）",
        (Text::ScenarioNotOpened, En) => "could not open the scenario, starting a fresh cluster:",
        (Text::ScenarioNotOpened, ZhCn) => "无法打开该场景，已从新集群开始：",
        (Text::Reset, En) => "start over",
        (Text::Reset, ZhCn) => "重新开始",
        (Text::TraceTitle, En) => "trace a connection",
        (Text::TraceTitle, ZhCn) => "追踪一次连接",
        (Text::TraceFrom, En) => "from",
        (Text::TraceFrom, ZhCn) => "来源",
        (Text::TraceTo, En) => "to (NAME:PORT or IP:PORT)",
        (Text::TraceTo, ZhCn) => "目标（名称:端口 或 IP:端口）",
        (Text::TraceRun, En) => "trace",
        (Text::TraceRun, ZhCn) => "追踪",
        (Text::TraceStep, En) => "next step",
        (Text::TraceStep, ZhCn) => "下一步",
        (Text::TracePlay, En) => "play",
        (Text::TracePlay, ZhCn) => "播放",
        (Text::TracePause, En) => "pause",
        (Text::TracePause, ZhCn) => "暂停",
        (Text::TraceAll, En) => "show every step",
        (Text::TraceAll, ZhCn) => "显示全部步骤",
        (Text::TraceNameFromOutside, En) => {
            "only a pod resolves cluster names: a kind node's resolver and a client outside do not know them; trace an IP:PORT (a ClusterIP, or a node IP with a nodePort)"
        }
        (Text::TraceNameFromOutside, ZhCn) => {
            "只有 Pod 能解析集群内的名称：kind 节点的解析器和集群外的客户端都不认识它们；请追踪 IP:端口（ClusterIP，或节点 IP 加 nodePort）"
        }
        (Text::TraceBadDestination, En) => {
            "the destination must be NAME:PORT or IP:PORT, for example httpd-svc:8080"
        }
        (Text::TraceBadDestination, ZhCn) => "目标必须是 名称:端口 或 IP:端口，例如 httpd-svc:8080",
        (Text::TraceOutsideVia, En) => "outside the cluster, via",
        (Text::TraceOutsideVia, ZhCn) => "集群外部，经由",
        (Text::DnsTitle, En) => "DNS from a pod",
        (Text::DnsTitle, ZhCn) => "从 Pod 内做 DNS 查询",
        (Text::DnsFromPod, En) => "from pod",
        (Text::DnsFromPod, ZhCn) => "在此 Pod 中",
        (Text::DnsName, En) => "name",
        (Text::DnsName, ZhCn) => "名称",
        (Text::DnsType, En) => "type",
        (Text::DnsType, ZhCn) => "类型",
        (Text::DnsDefaultType, En) => "(the tool's default)",
        (Text::DnsDefaultType, ZhCn) => "（工具默认）",
        (Text::DnsAsk, En) => "look up",
        (Text::DnsAsk, ZhCn) => "查询",
        (Text::DnsWalk, En) => "what the pod's C library sent (its search-list walk)",
        (Text::DnsWalk, ZhCn) => "Pod 的 C 库实际发出的查询（search 列表逐个尝试）",
        (Text::DnsDigNote, En) => {
            "dig as from a dnsutils pod beside it (same /etc/resolv.conf): dig does not use the search list unless given +search"
        }
        (Text::LabsTitle, En) => "guided labs",
        (Text::LabsTitle, ZhCn) => "引导实验",
        (Text::LabPick, En) => "lab",
        (Text::LabPick, ZhCn) => "实验",
        (Text::LabStart, En) => "start this lab (a fresh cluster)",
        (Text::LabStart, ZhCn) => "开始此实验（全新集群）",
        (Text::LabSolve, En) => "apply the solution",
        (Text::LabSolve, ZhCn) => "应用参考答案",
        (Text::LabGoals, En) => "goals",
        (Text::LabGoals, ZhCn) => "目标",
        (Text::LabSteps, En) => "steps",
        (Text::LabSteps, ZhCn) => "步骤",
        (Text::LabChecks, En) => "checks, on the cluster in this page",
        (Text::LabChecks, ZhCn) => "检查（针对本页面中的集群）",
        (Text::LabExpected, En) => "expected",
        (Text::LabExpected, ZhCn) => "期望",
        (Text::LabFound, En) => "found",
        (Text::LabFound, ZhCn) => "实际",
        (Text::LabCause, En) => "likely cause",
        (Text::LabCause, ZhCn) => "可能原因",
        (Text::LabHint, En) => "hint",
        (Text::LabHint, ZhCn) => "提示",
        (Text::LabAllPassed, En) => "every check passes: lab done",
        (Text::LabAllPassed, ZhCn) => "全部检查通过：实验完成",
        (Text::LabNotStarted, En) => "start the lab to grade it on a fresh cluster",
        (Text::LabNotStarted, ZhCn) => "开始实验后，将在全新集群上评分",
        (Text::StatusPass, En) => "pass",
        (Text::StatusPass, ZhCn) => "通过",
        (Text::StatusFail, En) => "fail",
        (Text::StatusFail, ZhCn) => "未通过",
        (Text::StatusError, En) => "could not check",
        (Text::StatusError, ZhCn) => "无法检查",
        (Text::SyncRemoved, En) => "the last sync removed:",
        (Text::SyncRemoved, ZhCn) => "上次同步删除了：",
        (Text::ScaleTitle, En) => "iptables, IPVS and nftables as Services grow",
        (Text::ScaleTitle, ZhCn) => "Service 增多时的 iptables、IPVS 与 nftables",
        (Text::ScaleIntro, En) => {
            "This page runs kube-proxy's rule generation for kind-worker at 1, 5,000 and 20,000 Services (5 endpoints each) in every mode, in a background worker, and traces one packet to the Service whose rule comes last. Times are this browser's; rule counts and rules traversed are exact."
        }
        (Text::ScaleIntro, ZhCn) => {
            "本页在后台 worker 中，以每种模式为 kind-worker 生成 kube-proxy 规则（1、5,000、20,000 个 Service，每个 5 个端点），并追踪一个发往规则排在最后的 Service 的数据包。时间为本浏览器实测；规则数与经过的规则数是精确值。"
        }
        (Text::ScaleRun, En) => "measure in this page",
        (Text::ScaleRun, ZhCn) => "在本页面中测量",
        (Text::ScaleFailed, En) => "the measurement failed:",
        (Text::ScaleFailed, ZhCn) => "测量失败：",
        (Text::ScaleRules, En) => "rules on the node",
        (Text::ScaleRules, ZhCn) => "节点上的规则数",
        (Text::ScaleFullSync, En) => "full sync (all Services)",
        (Text::ScaleFullSync, ZhCn) => "全量同步（全部 Service）",
        (Text::ScaleChange, En) => "sync after one endpoint change",
        (Text::ScaleChange, ZhCn) => "一个端点变化后的同步",
        (Text::ScaleTraversed, En) => "rules one packet is tested against",
        (Text::ScaleTraversed, ZhCn) => "一个数据包经过的规则数",
        (Text::ScaleServices, En) => "Services",
        (Text::ScaleServices, ZhCn) => "Service 数量",
        (Text::ScaleChapterCaption, En) => {
            "the chapter's table (grey rows) beside this page's measurements"
        }
        (Text::ScaleChapterCaption, ZhCn) => "本章的表格（灰色行）与本页的实测值对照",
        (Text::ScaleRowChapterRules, En) => "chapter: rules",
        (Text::ScaleRowChapterRules, ZhCn) => "本章：规则数",
        (Text::ScaleRowRules, En) => "rules on kind-worker,",
        (Text::ScaleRowRules, ZhCn) => "kind-worker 上的规则数，",
        (Text::ScaleRowChapterAddIptables, En) => "chapter: add one iptables rule",
        (Text::ScaleRowChapterAddIptables, ZhCn) => "本章：增加 1 条 iptables 规则",
        (Text::ScaleRowChapterAddIpvs, En) => "chapter: add one IPVS rule",
        (Text::ScaleRowChapterAddIpvs, ZhCn) => "本章：增加 1 条 IPVS 规则",
        (Text::ScaleRowChange, En) => "one endpoint change, partial sync,",
        (Text::ScaleRowChange, ZhCn) => "一个端点变化的部分同步，",
        (Text::ScaleRowTraversed, En) => "rules a packet traverses,",
        (Text::ScaleRowTraversed, ZhCn) => "数据包经过的规则数，",
        (Text::ScaleWhy, En) => {
            "Why no minutes or hours here: the chapter's figures come from the first iptables proxier, which reloaded the whole table for every change while legacy iptables swapped the kernel's ruleset as one blob under a lock. Today's kube-proxy sends only the changed chains plus KUBE-SERVICES (partial sync), so one change costs milliseconds. What stays linear is the data path: in iptables mode a packet is tested against every KUBE-SERVICES rule ahead of its own, while IPVS and nftables find the Service with one hash lookup."
        }
        (Text::ScaleWhy, ZhCn) => {
            "为什么这里看不到分钟或小时：本章的数字来自最早的 iptables 代理，它每次变化都重载整张表，而旧版 iptables 要在全局锁下整体替换内核规则集。如今的 kube-proxy 只下发变化的链和 KUBE-SERVICES（部分同步），一次变化只需几毫秒。始终线性增长的是数据路径：iptables 模式下数据包要依次匹配排在它前面的所有 KUBE-SERVICES 规则，而 IPVS 和 nftables 只需一次哈希查找。"
        }
        (Text::DnsDigNote, ZhCn) => {
            "dig 的输出如同在旁边的 dnsutils Pod 中运行（相同的 /etc/resolv.conf）：除非加 +search，dig 不使用 search 列表"
        }
        (Text::LiveEnter, En) => "live cluster",
        (Text::LiveEnter, ZhCn) => "实时集群",
        (Text::LiveEnterTitle, En) => {
            "follow the sim's real cluster, as kubectl sees it, instead of this page's own"
        }
        (Text::LiveEnterTitle, ZhCn) => {
            "跟随模拟集群中真实的对象（即 kubectl 看到的），而不是本页面自己的集群"
        }
        (Text::LiveTitle, En) => "svclab live view",
        (Text::LiveTitle, ZhCn) => "svclab 实时视图",
        (Text::LiveIntro, En) => {
            "This page follows a running cluster: its objects, read from the Kubernetes API every 2 s, as they are; beside them, the kube-proxy rules and DNS answers svclab predicts from them."
        }
        (Text::LiveIntro, ZhCn) => {
            "本页面跟随一个运行中的集群：每 2 秒从 Kubernetes API 读取对象并按原样显示；旁边是 svclab 据此预测的 kube-proxy 规则和 DNS 应答。"
        }
        (Text::LiveApi, En) => "Kubernetes API at",
        (Text::LiveApi, ZhCn) => "Kubernetes API 地址",
        (Text::LiveIsSim, En) => "the svclab sim",
        (Text::LiveIsSim, ZhCn) => "svclab 模拟集群",
        (Text::LiveIsOther, En) => "a cluster (not the svclab sim)",
        (Text::LiveIsOther, ZhCn) => "一个集群（不是 svclab 模拟集群）",
        (Text::LiveReadOnly, En) => {
            "Read-only: this page only sends GET requests. Change the cluster with kubectl (e.g. kubectl scale deployment httpd --replicas=5); the page follows within seconds."
        }
        (Text::LiveReadOnly, ZhCn) => {
            "只读：本页面只发送 GET 请求。请用 kubectl 修改集群（如 kubectl scale deployment httpd --replicas=5），本页面几秒内跟上。"
        }
        (Text::LiveBack, En) => "back to the playground",
        (Text::LiveBack, ZhCn) => "返回练习场",
        (Text::LiveLoading, En) => "reading the cluster…",
        (Text::LiveLoading, ZhCn) => "正在读取集群……",
        (Text::LiveFetchFailed, En) => {
            "Reading the cluster failed (the last state read stays; retrying every 2 s):"
        }
        (Text::LiveFetchFailed, ZhCn) => "读取集群失败（保留最后读到的状态，每 2 秒重试）：",
        (Text::LiveUnreachable, En) => "cannot reach the server",
        (Text::LiveUnreachable, ZhCn) => "无法连接服务器",
        (Text::LiveUndecodable, En) => "the answer is not the expected Kubernetes object",
        (Text::LiveUndecodable, ZhCn) => "应答不是预期的 Kubernetes 对象",
        (Text::LiveBaseRefused, En) => "The live view was not started: ?live=",
        (Text::LiveBaseRefused, ZhCn) => "实时视图没有启动：?live=",
        (Text::LiveBaseEmpty, En) => "it needs the API's path on this page's server.",
        (Text::LiveBaseEmpty, ZhCn) => "需要给出 API 在本页面服务器上的路径。",
        (Text::LiveBaseOtherHost, En) => "an address on another host is never fetched.",
        (Text::LiveBaseOtherHost, ZhCn) => "本页面从不读取其他主机上的地址。",
        (Text::LiveBaseNotAPath, En) => "the path must start with /.",
        (Text::LiveBaseNotAPath, ZhCn) => "路径必须以 / 开头。",
        (Text::LiveBaseBadCharacter, En) => {
            "the path may not contain ?, #, spaces or control characters."
        }
        (Text::LiveBaseBadCharacter, ZhCn) => "路径中不能含有 ?、#、空格或控制字符。",
        (Text::LiveBaseEncoding, En) => "its percent-escapes are not UTF-8.",
        (Text::LiveBaseEncoding, ZhCn) => "其中的百分号转义不是合法的 UTF-8。",
        (Text::LiveBaseExamples, En) => {
            "Use ?live=/ when the page is served by lab-runner sim, or ?live=/k8s when it is served by kubectl proxy --www=web-ui/dist --www-prefix=/ --api-prefix=/k8s/."
        }
        (Text::LiveBaseExamples, ZhCn) => {
            "页面由 lab-runner sim 提供时用 ?live=/，由 kubectl proxy --www=web-ui/dist --www-prefix=/ --api-prefix=/k8s/ 提供时用 ?live=/k8s。"
        }
        (Text::LiveNamespace, En) => "namespace",
        (Text::LiveNamespace, ZhCn) => "命名空间",
        (Text::LiveAllNamespaces, En) => "all namespaces",
        (Text::LiveAllNamespaces, ZhCn) => "全部命名空间",
        (Text::ColNamespace, En) => "namespace",
        (Text::ColNamespace, ZhCn) => "命名空间",
        (Text::ColType, En) => "type",
        (Text::ColType, ZhCn) => "类型",
        (Text::LivePredicted, En) => {
            "Predicted from the objects above, in the mode ConfigMap kube-system/kube-proxy selects:"
        }
        (Text::LivePredicted, ZhCn) => {
            "根据上面的对象预测，模式取自 ConfigMap kube-system/kube-proxy："
        }
        (Text::LiveFoundTitle, En) => "found on the node",
        (Text::LiveFoundTitle, ZhCn) => "节点上实际的规则",
        (Text::LiveFoundPending, En) => "reading the node's rules…",
        (Text::LiveFoundPending, ZhCn) => "正在读取节点上的规则……",
        (Text::LiveFoundFailed, En) => "The node's rules could not be read:",
        (Text::LiveFoundFailed, ZhCn) => "无法读取节点上的规则：",
        (Text::LiveNotSim, En) => {
            "This API is not the svclab sim, so the rules a node really has cannot be read from here"
        }
        (Text::LiveNotSim, ZhCn) => {
            "这个 API 不是 svclab 模拟集群，因此这里无法读取节点上实际的规则"
        }
        (Text::LiveFoundOnKind, En) => {
            "On kind, lab-runner compare --context kind-kind reads them (docker exec kind-worker iptables-save, or ipvsadm -Ln / nft list table ip kube-proxy) and compares them with the prediction."
        }
        (Text::LiveFoundOnKind, ZhCn) => {
            "在 kind 上，lab-runner compare --context kind-kind 会读取它们（docker exec kind-worker iptables-save，或 ipvsadm -Ln / nft list table ip kube-proxy）并与预测对照。"
        }
        (Text::LiveIdentical, En) => "identical: the node has exactly the predicted rules",
        (Text::LiveIdentical, ZhCn) => "一致：节点上的规则与预测完全相同",
        (Text::LiveDiffers, En) => {
            "differs (- predicted only, + on the node only; lab-runner compare gives each Service port's diff and the likely cause):"
        }
        (Text::LiveDiffers, ZhCn) => {
            "不一致（- 只在预测中，+ 只在节点上；lab-runner compare 会按 Service 端口列出差异和可能的原因）："
        }
        (Text::LiveDnsTitle, En) => "predicted DNS answers",
        (Text::LiveDnsTitle, ZhCn) => "预测的 DNS 应答",
        (Text::LiveDnsNote, En) => {
            "CoreDNS's answers for each Service's names (and a headless Service's pods), predicted from the Services and EndpointSlices read. NOERROR with no record is NODATA."
        }
        (Text::LiveDnsNote, ZhCn) => {
            "CoreDNS 对每个 Service 名称（及无头 Service 的各个 Pod）的应答，根据读取到的 Service 和 EndpointSlice 预测。NOERROR 但没有记录即 NODATA。"
        }
        (Text::ColQuestion, En) => "question",
        (Text::ColQuestion, ZhCn) => "查询",
        (Text::ColAnswer, En) => "answer",
        (Text::ColAnswer, ZhCn) => "应答",
    }
}

/// Where an error points: `line 7` / `第 7 行`.
pub fn at_line(lang: Lang, line: usize) -> String {
    match lang {
        Lang::En => format!("line {line}"),
        Lang::ZhCn => format!("第 {line} 行"),
    }
}

/// Said under a list cut short: `… and 12 more` / `…… 还有 12 项`.
pub fn and_more(lang: Lang, n: usize) -> String {
    match lang {
        Lang::En => format!("… and {n} more"),
        Lang::ZhCn => format!("…… 还有 {n} 项"),
    }
}

/// The `lang` attribute value for the page.
pub fn html_lang(lang: Lang) -> &'static str {
    lang.key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_differ_for_every_label() {
        for t in [
            Text::Title,
            Text::ApplyChapter,
            Text::Replicas,
            Text::ScaleUp,
            Text::MapTitle,
            Text::ProxyMode,
            Text::PodsTitle,
            Text::DeletePod,
            Text::MakeUnready,
            Text::MakeReady,
            Text::RulesTitle,
            Text::ServiceFilter,
            Text::AllServices,
            Text::NoRules,
            Text::TerminalTitle,
            Text::TerminalHelp,
            Text::TerminalInput,
            Text::EditorTitle,
            Text::EditorLabel,
            Text::LoadChapter,
            Text::ApplyEditor,
            Text::ShareTitle,
            Text::OpenLink,
            Text::ScenarioNotOpened,
            Text::Reset,
            Text::TraceTitle,
            Text::TraceFrom,
            Text::TraceTo,
            Text::TraceRun,
            Text::TraceStep,
            Text::TracePlay,
            Text::TracePause,
            Text::TraceAll,
            Text::TraceNameFromOutside,
            Text::TraceBadDestination,
            Text::TraceOutsideVia,
            Text::DnsTitle,
            Text::DnsFromPod,
            Text::DnsName,
            Text::DnsType,
            Text::DnsDefaultType,
            Text::DnsAsk,
            Text::DnsWalk,
            Text::DnsDigNote,
            Text::LabsTitle,
            Text::LabPick,
            Text::LabStart,
            Text::LabSolve,
            Text::LabGoals,
            Text::LabSteps,
            Text::LabChecks,
            Text::LabExpected,
            Text::LabFound,
            Text::LabCause,
            Text::LabHint,
            Text::LabAllPassed,
            Text::LabNotStarted,
            Text::StatusPass,
            Text::StatusFail,
            Text::StatusError,
            Text::SyncRemoved,
            Text::ScaleTitle,
            Text::ScaleIntro,
            Text::ScaleRun,
            Text::ScaleFailed,
            Text::ScaleRules,
            Text::ScaleFullSync,
            Text::ScaleChange,
            Text::ScaleTraversed,
            Text::ScaleServices,
            Text::ScaleChapterCaption,
            Text::ScaleRowChapterRules,
            Text::ScaleRowRules,
            Text::ScaleRowChapterAddIptables,
            Text::ScaleRowChapterAddIpvs,
            Text::ScaleRowChange,
            Text::ScaleRowTraversed,
            Text::ScaleWhy,
            Text::LiveEnter,
            Text::LiveEnterTitle,
            Text::LiveTitle,
            Text::LiveIntro,
            Text::LiveApi,
            Text::LiveIsSim,
            Text::LiveIsOther,
            Text::LiveReadOnly,
            Text::LiveBack,
            Text::LiveLoading,
            Text::LiveFetchFailed,
            Text::LiveUnreachable,
            Text::LiveUndecodable,
            Text::LiveBaseRefused,
            Text::LiveBaseEmpty,
            Text::LiveBaseOtherHost,
            Text::LiveBaseNotAPath,
            Text::LiveBaseBadCharacter,
            Text::LiveBaseEncoding,
            Text::LiveBaseExamples,
            Text::LiveNamespace,
            Text::LiveAllNamespaces,
            Text::ColNamespace,
            Text::ColType,
            Text::LivePredicted,
            Text::LiveFoundTitle,
            Text::LiveFoundPending,
            Text::LiveFoundFailed,
            Text::LiveNotSim,
            Text::LiveFoundOnKind,
            Text::LiveIdentical,
            Text::LiveDiffers,
            Text::LiveDnsTitle,
            Text::LiveDnsNote,
            Text::ColQuestion,
            Text::ColAnswer,
        ] {
            assert_ne!(text(Lang::En, t), text(Lang::ZhCn, t));
        }
    }
}
