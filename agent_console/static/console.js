/* Veilig Thuis — adviseursconsole. Vanilla JS, no build step.
 * Talks to the `/agent` Socket.IO namespace (see docs/protocol.md). Message text is always
 * rendered with textContent, never as HTML. The token lives in sessionStorage only. */
(function () {
  "use strict";

  var KEY_TOKEN = "vt.console.token";
  var KEY_AGENT = "vt.console.agent";
  var KEY_DRAFTS = "vt.console.drafts";
  var KEY_OUTBOX = "vt.console.outbox";
  var KEY_EXPIRES = "vt.console.expires";
  var KEY_VIEW = "vt.console.view";
  var CALL_TIMEOUT_MS = 8000;

  var LABELS = {
    caller_type: { kind: "Kind", jongere: "Jongere", volwassene: "Volwassene", professional: "Professional" },
    intent: { advies: "Advies", melding: "Melding", weet_niet: "Weet het nog niet" },
    // Teams and expertise come from the routing file on the server (GET /api/agent/routing,
    // loadRouting below): nothing of them is written here.
    team: {},
    expertise: {},
    missing: { summary: "samenvatting", urgency: "urgentie", gemeente: "gemeente" }
  };

  // Texts of the crisis procedure and transfer: Dutch first, English too (chosen by <html lang>,
  // as the widget does). Elements with data-t in console.html carry the Dutch text already and
  // are switched by applyTexts().
  var LANG = (document.documentElement.lang || "nl").slice(0, 2) === "en" ? "en" : "nl";
  var TEXT = {
    nl: {
      crisisTitle: "Crisis — direct oppakken",
      crisisCollapse: "Inklappen",
      readingBadge: "Je leest mee",
      readerJoined: "{name} leest mee.",
      takeOver: "Neem over",
      takeOverAsked: "Gevraagd aan de collega…",
      takeOverNow: "Nu overnemen",
      takeOverAskedNote: "Je hebt gevraagd het gesprek over te nemen. Zonder antwoord kun je om {time} zelf overnemen.",
      takeOverRequest: "{name} (crisisdienst) wil dit gesprek overnemen. Geef je het over?",
      takeOverDeclined: "{name} houdt het gesprek zelf. Je leest verder mee.",
      takeOverDone: "Je hebt het gesprek overgenomen. De bezoeker ziet nu jouw naam.",
      takenFromYou: "{name} heeft het gesprek overgenomen.",
      crisisExpand: "Uitklappen",
      crisisCollapsed: "{n} crisisalarm(en) open",
      crisisEndedGone: "Alarm gestopt: de bezoeker in gevaar is weg voordat iemand het gesprek aannam. Het gesprek staat bij je leidinggevende in de geschiedenis.",
      crisisEndedHeld: "Alarm gestopt: het gesprek is afgelopen.",
      inAlarm: "Staat in het crisisalarm hierboven: pak het daar op.",
      openCase: "Open dossier",
      dismiss: "Bericht wegklikken",
      ack: "Ik pak dit op",
      acking: "Bezig…",
      byVisitor: "bezoeker",
      bySystem: "risicosignaal",
      byColleague: "een collega",
      escalatedBy: "Geëscaleerd door {who}",
      since: "sinds {time}",
      round: "Herhaald alarm (ronde {n})",
      roundEveryone: "Herhaald alarm (ronde {n}) — naar alle adviseurs",
      statusWaiting: "wacht nog in de wachtrij: wie oppakt, neemt het gesprek aan",
      statusActive: "in gesprek bij een collega",
      statusMine: "in gesprek bij jou",
      statusClosed: "gesprek is al afgesloten",
      noReason: "(geen reden opgegeven)",
      alarmTitle: "CRISIS",
      announceAlert: "Crisisalarm: {reason}",
      announceAcked: "Crisis opgepakt door {who}",
      ackedTaken: "Je hebt de crisis opgepakt en het gesprek aangenomen.",
      ackedHeld: "Je hebt de crisis opgepakt. Je leest nu mee met de collega die het gesprek voert. Met “Neem over” vraag je het gesprek over te nemen.",
      ackAlreadyTaken: "Een collega heeft deze crisis al opgepakt.",
      ackForbidden: "Je mag deze crisis (nog) niet oppakken.",
      ackConflict: "Voor dit gesprek loopt geen crisis meer.",
      ackNotFound: "Dit gesprek bestaat niet meer.",
      offline: "Geen verbinding. Probeer het zo opnieuw.",
      crisisProcedure: "Crisisprocedure",
      crisisTimeline: "Verloop van de crisis",
      crisisWaiting: "Crisisdienst gealarmeerd om {time} — wacht tot iemand het oppakt.",
      crisisAcked: "Opgepakt door {who} om {time}.",
      escalateSent: "Crisisdienst gealarmeerd. Je ziet hier wanneer iemand het oppakt.",
      escalateRunning: "Er loopt al een crisisalarm voor dit gesprek.",
      kind_escalated: "Geëscaleerd door {who}",
      kind_alerted: "Alarm ronde {n} naar {audience}",
      kind_acknowledged: "Opgepakt door {who}",
      kind_ended: "Alarm gestopt.",
      kind_take_over_asked: "{who} vroeg het gesprek over te nemen",
      kind_take_over_no: "{who} hield het gesprek zelf",
      kind_taken_over: "Overgenomen door {who}",
      takeOverHowConsent: "met instemming",
      takeOverHowNoAnswer: "zonder antwoord op tijd",
      takeOverHowOffline: "collega was niet online",
      crisisEndedAt: "Alarm gestopt om {time}: het gesprek is afgelopen voordat iemand het oppakte.",
      audience_crisis: "de crisisdienst",
      audience_everyone: "alle adviseurs",
      crisisBadge: "Crisis",
      escalateButton: "Escaleer naar crisisdienst",
      escalateTitle: "Escaleren naar de crisisdienst",
      escalateDesc: "De crisisdienst wordt meteen gealarmeerd, en opnieuw tot iemand het oppakt. De bezoeker krijgt direct te zien: bel 112 bij acuut gevaar. Het gesprek blijft bij jou.",
      escalateReason: "Reden",
      escalateHint: "Wat is er aan de hand? Maximaal 500 tekens; de crisisdienst leest dit in het alarm.",
      escalateSubmit: "Crisisdienst alarmeren",
      escalateMissing: "Vul de reden in.",
      escalateTooLong: "De reden is te lang (maximaal 500 tekens).",
      escalateOffline: "Geen verbinding: de crisisdienst is nog niet gealarmeerd. Probeer het meteen opnieuw of bel de crisisdienst.",
      required: "(verplicht)",
      cancel: "Annuleren",
      transferButton: "Doorverbinden",
      transferTitle: "Doorverbinden",
      transferDesc: "Het gesprek gaat met alle berichten en notities naar een team of een collega. De bezoeker hoort dat je doorverbindt.",
      transferTo: "Doorverbinden naar",
      transferToTeam: "Een team",
      transferToAgent: "Een collega",
      transferSubmit: "Doorverbinden",
      team: "Team",
      colleague: "Collega",
      chooseTeam: "— kies een team —",
      chooseColleague: "— kies een collega —",
      routingLoading: "Teams en expertise worden geladen…",
      routingFailed: "De lijst met teams en expertise is niet te laden. Sluit dit venster en probeer het zo opnieuw.",
      closedChatMelding: "Gesprek afgesloten als melding (urgentie {urgency}). Het staat in Dossiers.",
      closedChatAdvies: "Gesprek afgesloten als advies. Het staat in Dossiers.",
      closedChatGeen: "Gesprek afgesloten zonder vervolg.",
      closedCbMelding: "Terugbelverzoek afgesloten als melding (urgentie {urgency}). Het staat in Dossiers.",
      closedCbAdvies: "Terugbelverzoek afgesloten als advies. Het staat in Dossiers.",
      closedCbGeen: "Terugbelverzoek afgesloten zonder vervolg.",
      online: "online",
      offline_: "offline",
      groupOnline: "Online",
      groupOffline: "Offline",
      colleaguesLoading: "Collega's worden geladen…",
      colleaguesNone: "Er zijn geen collega's om naar door te verbinden.",
      colleaguesFailed: "De lijst met collega's is niet te laden. Kies een team of probeer het opnieuw.",
      colleaguesCount: "{online} van {total} collega's online.",
      transferMissingTeam: "Kies een team.",
      transferMissingAgent: "Kies een collega.",
      transferCapacity: "Deze collega heeft al het maximum aantal gesprekken{limit}. Kies een ander of een team.",
      transferNotFound: "Dit team of deze collega bestaat niet (meer).",
      transferForbidden: "Dit gesprek is niet (meer) van jou.",
      transferOffline: "Geen verbinding: het gesprek is nog niet doorverbonden. Probeer het zo opnieuw.",
      transferDone: "Gesprek doorverbonden naar {to}.",
      transferredIn: "Doorverbonden door {from}.",
      visitorLeft: "De bezoeker heeft het gesprek verlaten. Leg de uitkomst nog vast: advies, melding of geen.",
      visitorFled: "De bezoeker heeft “Snel weg” gebruikt. Misschien is de bezoeker nu in gevaar. Leg de uitkomst vast (bij acuut gevaar: een melding met urgentie spoed).",
      visitorGoneBadge: "Bezoeker is weg",
      visitorBack: "De bezoeker is terug.",
      visitorAway: "De verbinding van de bezoeker is weg sinds {time}. Misschien komt de bezoeker terug.",
      acceptAwayConfirm: "De verbinding van deze bezoeker is weg sinds {time}. Misschien komt de bezoeker zo terug, misschien niet. Toch aannemen?",
      visitorGoneSince: "Bezoeker is weg sinds {time}",
      quickExitBadge: "Snel weg gebruikt",
      outcomeDue: "Uitkomst vastleggen vóór {time}",
      outcomeTabSub: "Uitkomst vastleggen",
      outcomeLate: "De tijd om de uitkomst vast te leggen is voorbij. Het gesprek is afgesloten als ‘geen’; je leidinggevende ziet dit.",
      outcomeMissing: "Geen uitkomst vastgelegd door {name} na vertrek van de bezoeker{fled}. Afgesloten als ‘geen’.",
      outcomeMissingFled: " (snel weg gebruikt)",
      spoedMelding: "Spoedmelding ter afhandeling van {by}{gemeente}: {summary}",
      spoedFlash: "Spoedmelding",
      transferredAnnounce: "Gesprek doorverbonden door {from}",
      offerTitle: "Gesprek aangeboden",
      offerExpiresIn: "Vervalt over",
      offerExpertise: "Expertise",
      offerWaited: "Wacht al",
      offerAccept: "Aannemen",
      offerPass: "Laten passeren",
      offerDanger: "⚠ Direct gevaar",
      offerNone: "geen",
      offerFlash: "Gesprek aangeboden",
      offerAnnounce: "Gesprek aangeboden: {what}. Aannemen of laten passeren.",
      offerSoon: "Het aanbod vervalt over 10 seconden.",
      offerPassed: "Aanbod doorgegeven aan een collega.",
      offerExpired: "Het aangeboden gesprek is vervallen: je hebt niet op tijd gereageerd.",
      offerTaken: "Het aangeboden gesprek is al door een collega aangenomen.",
      offerGone: "Het aangeboden gesprek wacht niet meer in de wachtrij.",
      offerNotOffered: "Dit gesprek wordt je niet meer aangeboden.",
      capacity: "Je hebt al het maximum aantal gesprekken{limit}. Sluit eerst een gesprek af.",
      viewChats: "Chats",
      viewCallbacks: "Terugbellen",
      unreadCount: "{n} ongelezen",
      cbTitle: "Terugbellen",
      cbDate: "Datum",
      cbChooseDay: "Dag kiezen",
      cbOnlyBooked: "Alleen tijdvakken met verzoeken",
      cbHiddenEmpty: "{n} tijdvakken zonder verzoeken verborgen.",
      cbOpenCount: " te bellen",
      cbPrev: "‹ Vorige dag",
      cbNext: "Volgende dag ›",
      cbToday: "Vandaag",
      cbRefresh: "Vernieuwen",
      cbLoading: "Werklijst wordt geladen…",
      cbLoaded: "Bijgewerkt om {time}.",
      cbLoadFailed: "De werklijst is niet te laden. Probeer het opnieuw.",
      cbOffline: "Geen verbinding met de server. Probeer het zo opnieuw.",
      cbBadDate: "Kies een geldige datum.",
      cbNoTijdvakken: "Op deze dag zijn er geen tijdvakken (weekend of feestdag).",
      cbSummary: "{callbacks} om te bellen in {tijdvakken} tijdvakken.",
      cbEmptyTijdvak: "Geen verzoeken in dit tijdvak.",
      cbBooked: "{booked} van {capacity} plaatsen geboekt",
      cbBookedUnknown: "Tijdvak staat niet meer in het rooster",
      cbMergedElsewhere: "{n} verzoek(en) uit dit tijdvak samengevoegd met een ander tijdvak van hetzelfde nummer.",
      kind_terugbellen: "Terugbellen",
      kind_adviesgesprek: "Adviesgesprek",
      cbPhone: "Telefoonnummer",
      cbCall: "Bellen: {phone}",
      cbCopy: "Kopieer nummer",
      cbCopied: "Nummer gekopieerd.",
      cbCopySelect: "Nummer geselecteerd: kopieer het met Ctrl+C.",
      cbRequests: "{n} verzoeken",
      cbRequest: "Verzoek",
      cbMergedNote: "Samengevoegd: hetzelfde nummer heeft apart meer verzoeken gedaan, elk met een eigen tijdvak. Eén keer bellen, in het tijdvak van het verzoek dat nu gebeld wordt. Vraag naar de andere verzoeken: de beller weet er misschien niets van.",
      cbCreatedApart: "Apart aangevraagd op",
      cbVoicemailChoice: "Voicemail",
      cbVmYes: "mag",
      cbVmNo: "niet inspreken",
      cbBeingCalled: "Nu bellen voor dit verzoek",
      cbReqStatus: "Status",
      cbAppliesTo: "Poging en afronden gelden voor dit verzoek",
      cbAppliesHint: "Vink aan voor welke verzoeken je een poging of afronding vastlegt. Niet aangevinkte verzoeken blijven open in hun eigen tijdvak.",
      cbChooseRequest: "Vink minstens één verzoek aan.",
      cbNoVoicemailSelected: "Een van de aangevinkte verzoeken staat geen voicemail toe.",
      cbCloseFor: "Voor: {refs}",
      cbRelated: "Eerder met dit nummer",
      cbRelatedItem: "{refs}: {status} ({when})",
      cbNoName: "(geen naam opgegeven)",
      cbNoTopic: "(geen onderwerp opgegeven)",
      cbReference: "Kenmerk",
      cbCreated: "Aangevraagd",
      cbOwnSlot: "Gekozen tijdvak",
      cbRescheduled: "verzet door de beller",
      cbCallerType: "Beller",
      cbName: "Naam",
      cbTopic: "Onderwerp",
      cbEmail: "E-mail",
      cbOrganisation: "Organisatie",
      cbNoVoicemail: "Geen voicemail inspreken",
      cbNoVoicemailWhy: "De beller heeft geen toestemming gegeven om een bericht in te spreken: dat kan onveilig zijn. Niet opgenomen? Hang op en probeer het later opnieuw.",
      cbVoicemailOk: "Voicemail inspreken mag (zonder te zeggen waar je over belt).",
      cbVoicemailDisabled: "Voicemail inspreken mag hier niet.",
      cbOverdue: "Over tijd",
      cbOverdueWhy: "Het tijdvak is voorbij en dit verzoek is nog niet afgehandeld.",
      cbStatus: "Status",
      cbAttempts: "Pogingen",
      cbNextAttempt: "Volgende poging",
      st_open: "Open",
      st_claimed: "Opgepakt door {who}",
      st_reached: "Bereikt · opgepakt door {who}",
      st_retry: "Opgepakt door {who} · opnieuw proberen om {time}",
      st_not_reached: "Niet bereikt",
      st_wrong_number: "Onjuist nummer",
      st_closed: "Afgerond",
      st_closedAs: "Afgerond: {kind}",
      st_cancelled: "Geannuleerd",
      you: "jou",
      outcome_advies: "advies",
      outcome_melding: "melding",
      outcome_geen: "geen vervolg",
      cbClaim: "Oppakken",
      cbClaimLabel: "Oppakken: {phone}",
      cbClaimed: "Je hebt dit terugbelverzoek opgepakt. Bel {phone}.",
      cbAlreadyTaken: "Een collega heeft dit verzoek al opgepakt.",
      cbClosedAlready: "Dit terugbelverzoek is al afgehandeld.",
      cbNotFound: "Dit terugbelverzoek bestaat niet meer.",
      cbForbidden: "Dit terugbelverzoek is niet (meer) van jou.",
      cbRecord: "Resultaat van de poging",
      res_bereikt: "Bereikt",
      res_geen_gehoor: "Geen gehoor",
      res_voicemail: "Voicemail ingesproken",
      res_onjuist_nummer: "Onjuist nummer",
      cbFinish: "Afronden",
      cbBusy: "Bezig…",
      cbStateReached: "Bereikt. Rond het gesprek af met Afronden.",
      cbStateRetry: "Poging {n} vastgelegd: opnieuw proberen om {time}.",
      cbStateNotReached: "Niet bereikt na {n} pogingen. Het verzoek is afgesloten.",
      cbStateWrongNumber: "Onjuist nummer vastgelegd. Het verzoek is afgesloten.",
      cbFinished: "Terugbelverzoek afgerond.",
      cbCloseTitle: "Terugbelverzoek afronden",
      cbCloseContext: "Terugbellen naar {phone}",
      cbCloseSubmit: "Afronden",
      chatCloseTitle: "Gesprek afsluiten",
      chatCloseSubmit: "Afsluiten",
      cbRoster: "Plaatsen",
      cbRosterLabel: "Plaatsen in tijdvak {slot}",
      cbRosterSave: "Opslaan",
      cbRosterSaved: "Opgeslagen: {capacity} plaatsen, {booked} geboekt, {remaining} vrij.",
      cbRosterBelow: "Minder plaatsen dan geboekt: er kan niet meer geboekt worden.",
      cbRosterInvalid: "Vul een aantal van 0 tot en met 1000 in.",
      cbRosterForbidden: "Alleen een supervisor of beheerder mag het rooster aanpassen.",
      cbAlertsTitle: "Terugbellen",
      cbAlertsOpen: "Naar terugbellen",
      tvStarted: "Tijdvak {slot} begint: {what}",
      tvStartedAdvies: "Tijdvak {slot} (adviesgesprekken) begint: {what}",
      tvCallbacks1: "1 terugbelverzoek",
      tvCallbacksN: "{n} terugbelverzoeken",
      tvAdvies1: "1 adviesgesprek",
      tvAdviesN: "{n} adviesgesprekken",
      cbOverdueAlert: "Over tijd: terugbelverzoek uit tijdvak {slot} ({status}).",
      viewCases: "Dossiers",
      csTitle: "Dossiers",
      csRefresh: "Vernieuwen",
      csShow: "Tonen",
      csFilterAll: "Alle dossiers",
      csFilterDue: "Meldingen met termijn binnen",
      csDays: "Aantal dagen",
      csDays0: "0 dagen (vandaag)",
      csDays2: "2 dagen",
      csDays5: "5 dagen",
      csFilterOverdue: "Termijn verlopen",
      csFilterDead: "Niet afgeleverd",
      csTodayIs: "Vandaag: {day}",
      csLoading: "Dossiers worden geladen…",
      csLoaded: "{n} dossiers · bijgewerkt om {time}.",
      csLoaded1: "1 dossier · bijgewerkt om {time}.",
      csLoadFailed: "De dossiers zijn niet te laden. Probeer het opnieuw.",
      csDeadForbidden: "Alleen een supervisor of beheerder ziet de niet-afgeleverde dossiers.",
      csEmptyAll: "Er zijn nog geen dossiers.",
      csEmptyDue: "Geen meldingen met een termijn binnen {n} dagen.",
      csEmptyDue0: "Geen meldingen met een termijn van vandaag of eerder.",
      csEmptyOverdue: "Geen meldingen met een verlopen termijn.",
      csEmptyDead: "Alle dossiers zijn afgeleverd.",
      csOverdueCount: " termijn verlopen",
      csNoneOpen: "Geen dossier geopend",
      csNoneOpenHint: "Kies links een dossier.",
      csDeadline: "Termijn",
      csNoDeadline: "Geen termijn",
      csToday: "vandaag",
      csTomorrow: "morgen",
      csYesterday: "gisteren",
      csLate: "Termijn verlopen",
      csLateWhy: "De veiligheidsbeoordeling had uiterlijk {day} moeten starten.",
      csDueWhy: "De veiligheidsbeoordeling start uiterlijk {day}.",
      csDeadlineRule: "Melding: binnen 5 werkdagen na ontvangst; spoed: dezelfde dag.",
      csHermelding: "Hermelding",
      csEarlier: "Eerder dossier",
      csEarlierLabel: "Eerder dossier openen (ontvangen {day})",
      csEarlierOpen: "Eerder dossier openen",
      csHermeldingWhy: "Eerder is er al een melding of advies geregistreerd met hetzelfde telefoonnummer of e-mailadres.",
      csReceived: "Ontvangen",
      csSource: "Via",
      csCallerType: "Beller",
      csAdvisor: "Adviseur",
      csDelivery: "Aflevering",
      csUrgency: "Urgentie",
      csGemeente: "Gemeente",
      csKind: "Soort",
      csTries: "Pogingen",
      csLastError: "Laatste fout",
      csOpen: "Dossier openen",
      csOpened: "Dossier geopend: {what}",
      csDetailLoading: "Dossier wordt geladen…",
      csDetailFailed: "Dit dossier is niet te laden. Probeer het opnieuw.",
      csNotFound: "Dit dossier bestaat niet (meer).",
      csOutcome: "Uitkomst",
      csSummary: "Samenvatting",
      csExpertise: "Expertise",
      csReporterPhone: "Telefoon melder",
      csReporterEmail: "E-mail melder",
      csContact: "Contact",
      csIntent: "Vraag bij de start",
      csTopic: "Onderwerp",
      csTeam: "Team",
      csCrisis: "Crisis",
      csCrisisStarted: "Crisisprocedure gestart om {time}",
      csCrisisAcked: "Opgepakt om {time}",
      csCrisisOpen: "Bij het afsluiten nog niet opgepakt",
      csTranscript: "Gesprek",
      csPurged: "Transcript verwijderd na bewaartermijn",
      csPurgedWhy: "De registratie (uitkomst, termijn, koppelingen) blijft bewaard.",
      csNoMessages: "Geen berichten in dit gesprek.",
      csVisitor: "Bezoeker",
      csAgent: "Adviseur",
      csSystem: "Systeem",
      csInternal: "Intern",
      csNoteWhy: "Interne notitie — nooit gezien door de bezoeker",
      csColleague: "collega",
      csCallback: "Terugbellen",
      csPhone: "Telefoonnummer",
      csSlot: "Tijdvak",
      csVoicemail: "Voicemail",
      csVoicemailYes: "mocht ingesproken worden",
      csVoicemailNo: "niet inspreken",
      csAttempts: "Belpogingen",
      csNoAttempts: "Geen belpogingen vastgelegd.",
      csRequests: "Verzoeken",
      csRequestStatus: "Status",
      src_chat: "Chat",
      src_callback: "Terugbellen",
      case_melding: "Melding",
      case_advies: "Advies",
      urg_spoed: "Spoed",
      urg_hoog: "Hoog",
      urg_midden: "Midden",
      urg_laag: "Laag",
      del_pending: "Wordt afgeleverd",
      del_delivered: "Afgeleverd",
      del_registered: "Geregistreerd",
      del_dead: "Niet afgeleverd",
      caller_kind: "Kind",
      caller_jongere: "Jongere",
      caller_volwassene: "Volwassene",
      caller_professional: "Professional",
      intent_advies: "Advies",
      intent_melding: "Melding",
      intent_weet_niet: "Weet het nog niet",
      rq_open: "Open",
      rq_done: "Afgehandeld",
      rq_cancelled: "Geannuleerd",
      rq_not_reached: "Niet bereikt",
      rq_wrong_number: "Onjuist nummer"
    },
    en: {
      crisisTitle: "Crisis — take it on now",
      crisisCollapse: "Collapse",
      readingBadge: "Reading along",
      readerJoined: "{name} is reading along.",
      takeOver: "Take over",
      takeOverAsked: "Asked the colleague…",
      takeOverNow: "Take over now",
      takeOverAskedNote: "You asked to take this chat over. Without an answer you may take it over yourself at {time}.",
      takeOverRequest: "{name} (crisis team) wants to take this chat over. Hand it over?",
      takeOverDeclined: "{name} keeps the chat. You go on reading along.",
      takeOverDone: "You took the chat over. The visitor now sees your name.",
      takenFromYou: "{name} took the chat over.",
      crisisExpand: "Expand",
      crisisCollapsed: "{n} crisis alarm(s) open",
      crisisEndedGone: "Alarm stopped: the visitor in danger left before anyone took the chat. A supervisor can read it in the history.",
      crisisEndedHeld: "Alarm stopped: the chat has ended.",
      inAlarm: "In the crisis alarm above: take it on there.",
      openCase: "Open case",
      dismiss: "Dismiss",
      ack: "I'll take this",
      acking: "Working…",
      byVisitor: "visitor",
      bySystem: "risk signal",
      byColleague: "a colleague",
      escalatedBy: "Escalated by {who}",
      since: "since {time}",
      round: "Repeated alarm (round {n})",
      roundEveryone: "Repeated alarm (round {n}) — to all advisors",
      statusWaiting: "still waiting in the queue: whoever takes it on accepts the chat",
      statusActive: "in a chat with a colleague",
      statusMine: "in a chat with you",
      statusClosed: "chat already closed",
      noReason: "(no reason given)",
      alarmTitle: "CRISIS",
      announceAlert: "Crisis alarm: {reason}",
      announceAcked: "Crisis taken on by {who}",
      ackedTaken: "You took on the crisis and accepted the chat.",
      ackedHeld: "You took on the crisis. You now read along with the colleague holding the chat. “Take over” asks to take it over.",
      ackAlreadyTaken: "A colleague has already taken on this crisis.",
      ackForbidden: "You may not take on this crisis (yet).",
      ackConflict: "This chat is no longer in crisis.",
      ackNotFound: "This chat no longer exists.",
      offline: "No connection. Please try again in a moment.",
      crisisProcedure: "Crisis procedure",
      crisisTimeline: "Course of the crisis",
      crisisWaiting: "Crisis team alerted at {time} — waiting for someone to take it on.",
      crisisAcked: "Taken on by {who} at {time}.",
      escalateSent: "Crisis team alerted. You will see here when someone takes it on.",
      escalateRunning: "A crisis alarm for this chat is already running.",
      kind_escalated: "Escalated by {who}",
      kind_alerted: "Alarm round {n} to {audience}",
      kind_acknowledged: "Taken on by {who}",
      kind_ended: "Alarm stopped.",
      kind_take_over_asked: "{who} asked to take the chat over",
      kind_take_over_no: "{who} kept the chat",
      kind_taken_over: "Taken over by {who}",
      takeOverHowConsent: "with consent",
      takeOverHowNoAnswer: "no answer in time",
      takeOverHowOffline: "colleague was not online",
      crisisEndedAt: "Alarm stopped at {time}: the chat ended before anyone took it on.",
      audience_crisis: "the crisis team",
      audience_everyone: "all advisors",
      crisisBadge: "Crisis",
      escalateButton: "Escalate to crisis team",
      escalateTitle: "Escalate to the crisis team",
      escalateDesc: "The crisis team is alerted at once, and again until someone takes it on. The visitor is shown at once: call 112 in acute danger. The chat stays with you.",
      escalateReason: "Reason",
      escalateHint: "What is going on? At most 500 characters; the crisis team reads this in the alarm.",
      escalateSubmit: "Alert the crisis team",
      escalateMissing: "Please give the reason.",
      escalateTooLong: "The reason is too long (at most 500 characters).",
      escalateOffline: "No connection: the crisis team has not been alerted yet. Try again at once or call the crisis team.",
      required: "(required)",
      cancel: "Cancel",
      transferButton: "Transfer",
      transferTitle: "Transfer",
      transferDesc: "The chat goes to a team or a colleague with all messages and notes. The visitor is told you are transferring.",
      transferTo: "Transfer to",
      transferToTeam: "A team",
      transferToAgent: "A colleague",
      transferSubmit: "Transfer",
      team: "Team",
      colleague: "Colleague",
      chooseTeam: "— choose a team —",
      chooseColleague: "— choose a colleague —",
      routingLoading: "Loading teams and expertise…",
      routingFailed: "The list of teams and expertise cannot be loaded. Close this window and try again shortly.",
      closedChatMelding: "Chat closed as a report (melding), urgency: {urgency}. You find it under Cases.",
      closedChatAdvies: "Chat closed as advice. You find it under Cases.",
      closedChatGeen: "Chat closed without follow-up.",
      closedCbMelding: "Callback closed as a report (melding), urgency: {urgency}. You find it under Cases.",
      closedCbAdvies: "Callback closed as advice. You find it under Cases.",
      closedCbGeen: "Callback closed without follow-up.",
      online: "online",
      offline_: "offline",
      groupOnline: "Online",
      groupOffline: "Offline",
      colleaguesLoading: "Loading colleagues…",
      colleaguesNone: "There are no colleagues to transfer to.",
      colleaguesFailed: "The list of colleagues cannot be loaded. Choose a team or try again.",
      colleaguesCount: "{online} of {total} colleagues online.",
      transferMissingTeam: "Choose a team.",
      transferMissingAgent: "Choose a colleague.",
      transferCapacity: "This colleague already has the maximum number of chats{limit}. Choose another or a team.",
      transferNotFound: "This team or colleague does not exist (any more).",
      transferForbidden: "This chat is not (or no longer) yours.",
      transferOffline: "No connection: the chat has not been transferred yet. Please try again in a moment.",
      transferDone: "Chat transferred to {to}.",
      transferredIn: "Transferred by {from}.",
      visitorLeft: "The visitor left the conversation. Record the outcome: advice, report or none.",
      visitorFled: "The visitor used “Quick exit” and may be in danger right now. Record the outcome (in acute danger: a report with urgency spoed).",
      visitorGoneBadge: "Visitor has gone",
      visitorBack: "The visitor is back.",
      visitorAway: "The visitor's connection has been gone since {time}. They may come back.",
      acceptAwayConfirm: "This visitor's connection has been gone since {time}. They may come back soon, or not. Accept anyway?",
      visitorGoneSince: "Visitor gone since {time}",
      quickExitBadge: "Quick exit used",
      outcomeDue: "Record the outcome before {time}",
      outcomeTabSub: "Record the outcome",
      outcomeLate: "The time to record the outcome has passed. The conversation was closed as ‘none’; your supervisor sees this.",
      outcomeMissing: "No outcome recorded by {name} after the visitor left{fled}. Closed as ‘none’.",
      outcomeMissingFled: " (quick exit used)",
      spoedMelding: "Urgent report to handle, from {by}{gemeente}: {summary}",
      spoedFlash: "Urgent report",
      transferredAnnounce: "Chat transferred by {from}",
      offerTitle: "Chat offered to you",
      offerExpiresIn: "Expires in",
      offerExpertise: "Expertise",
      offerWaited: "Waiting for",
      offerAccept: "Accept",
      offerPass: "Let it pass",
      offerDanger: "⚠ In danger now",
      offerNone: "none",
      offerFlash: "Chat offered",
      offerAnnounce: "Chat offered to you: {what}. Accept or let it pass.",
      offerSoon: "The offer expires in 10 seconds.",
      offerPassed: "Offer passed on to a colleague.",
      offerExpired: "The offered chat has expired: you did not answer in time.",
      offerTaken: "A colleague has already accepted the offered chat.",
      offerGone: "The offered chat is no longer waiting in the queue.",
      offerNotOffered: "This chat is no longer offered to you.",
      capacity: "You already have the maximum number of chats{limit}. Close a chat first.",
      viewChats: "Chats",
      viewCallbacks: "Callbacks",
      unreadCount: "{n} unread",
      cbTitle: "Callbacks",
      cbDate: "Date",
      cbChooseDay: "Choose the day",
      cbOnlyBooked: "Only time windows with requests",
      cbHiddenEmpty: "{n} time windows without requests hidden.",
      cbOpenCount: " to call",
      cbPrev: "‹ Previous day",
      cbNext: "Next day ›",
      cbToday: "Today",
      cbRefresh: "Refresh",
      cbLoading: "Loading the work list…",
      cbLoaded: "Updated at {time}.",
      cbLoadFailed: "The work list cannot be loaded. Please try again.",
      cbOffline: "No connection to the server. Please try again in a moment.",
      cbBadDate: "Choose a valid date.",
      cbNoTijdvakken: "There are no time windows on this day (weekend or public holiday).",
      cbSummary: "{callbacks} to call in {tijdvakken} time windows.",
      cbEmptyTijdvak: "No requests in this time window.",
      cbBooked: "{booked} of {capacity} places booked",
      cbBookedUnknown: "Time window no longer in the roster",
      cbMergedElsewhere: "{n} request(s) from this time window merged into another time window of the same number.",
      kind_terugbellen: "Callback",
      kind_adviesgesprek: "Advice call",
      cbPhone: "Phone number",
      cbCall: "Call: {phone}",
      cbCopy: "Copy number",
      cbCopied: "Number copied.",
      cbCopySelect: "Number selected: copy it with Ctrl+C.",
      cbRequests: "{n} requests",
      cbRequest: "Request",
      cbMergedNote: "Merged: the same number made more than one request separately, each with its own time window. Call once, in the time window of the request being called now. Ask about the other requests: the person may not know of them.",
      cbCreatedApart: "Requested separately on",
      cbVoicemailChoice: "Voicemail",
      cbVmYes: "allowed",
      cbVmNo: "do not leave one",
      cbBeingCalled: "Call now for this request",
      cbReqStatus: "Status",
      cbAppliesTo: "Attempt and finish apply to this request",
      cbAppliesHint: "Tick the requests an attempt or finish applies to. Requests not ticked stay open in their own time window.",
      cbChooseRequest: "Tick at least one request.",
      cbNoVoicemailSelected: "One of the ticked requests allows no voicemail.",
      cbCloseFor: "For: {refs}",
      cbRelated: "Earlier from this number",
      cbRelatedItem: "{refs}: {status} ({when})",
      cbNoName: "(no name given)",
      cbNoTopic: "(no topic given)",
      cbReference: "Reference",
      cbCreated: "Requested",
      cbOwnSlot: "Chosen time window",
      cbRescheduled: "moved by the caller",
      cbCallerType: "Caller",
      cbName: "Name",
      cbTopic: "Topic",
      cbEmail: "E-mail",
      cbOrganisation: "Organisation",
      cbNoVoicemail: "Do not leave a voicemail",
      cbNoVoicemailWhy: "The caller did not allow a voicemail: it may not be safe. No answer? Hang up and try again later.",
      cbVoicemailOk: "A voicemail may be left (without saying what the call is about).",
      cbVoicemailDisabled: "No voicemail may be left here.",
      cbOverdue: "Overdue",
      cbOverdueWhy: "The time window is over and this request has not been handled.",
      cbStatus: "Status",
      cbAttempts: "Attempts",
      cbNextAttempt: "Next attempt",
      st_open: "Open",
      st_claimed: "Taken on by {who}",
      st_reached: "Reached · taken on by {who}",
      st_retry: "Taken on by {who} · try again at {time}",
      st_not_reached: "Not reached",
      st_wrong_number: "Wrong number",
      st_closed: "Finished",
      st_closedAs: "Finished: {kind}",
      st_cancelled: "Cancelled",
      you: "you",
      outcome_advies: "advice",
      outcome_melding: "report (melding)",
      outcome_geen: "no follow-up",
      cbClaim: "Take on",
      cbClaimLabel: "Take on: {phone}",
      cbClaimed: "You took on this callback. Call {phone}.",
      cbAlreadyTaken: "A colleague has already taken on this request.",
      cbClosedAlready: "This callback has already been handled.",
      cbNotFound: "This callback no longer exists.",
      cbForbidden: "This callback is not (or no longer) yours.",
      cbRecord: "Result of the attempt",
      res_bereikt: "Reached",
      res_geen_gehoor: "No answer",
      res_voicemail: "Voicemail left",
      res_onjuist_nummer: "Wrong number",
      cbFinish: "Finish",
      cbBusy: "Working…",
      cbStateReached: "Reached. Finish the call with Finish.",
      cbStateRetry: "Attempt {n} recorded: try again at {time}.",
      cbStateNotReached: "Not reached after {n} attempts. The request is closed.",
      cbStateWrongNumber: "Wrong number recorded. The request is closed.",
      cbFinished: "Callback finished.",
      cbCloseTitle: "Finish the callback",
      cbCloseContext: "Callback to {phone}",
      cbCloseSubmit: "Finish",
      chatCloseTitle: "Close the chat",
      chatCloseSubmit: "Close",
      cbRoster: "Places",
      cbRosterLabel: "Places in time window {slot}",
      cbRosterSave: "Save",
      cbRosterSaved: "Saved: {capacity} places, {booked} booked, {remaining} free.",
      cbRosterBelow: "Fewer places than booked: no new bookings possible.",
      cbRosterInvalid: "Enter a number from 0 to 1000.",
      cbRosterForbidden: "Only a supervisor or administrator may change the roster.",
      cbAlertsTitle: "Callbacks",
      cbAlertsOpen: "Go to callbacks",
      tvStarted: "Time window {slot} starts: {what}",
      tvStartedAdvies: "Time window {slot} (advice calls) starts: {what}",
      tvCallbacks1: "1 callback",
      tvCallbacksN: "{n} callbacks",
      tvAdvies1: "1 advice call",
      tvAdviesN: "{n} advice calls",
      cbOverdueAlert: "Overdue: callback from time window {slot} ({status}).",
      viewCases: "Cases",
      csTitle: "Cases",
      csRefresh: "Refresh",
      csShow: "Show",
      csFilterAll: "All cases",
      csFilterDue: "Reports (meldingen) due within",
      csDays: "Number of days",
      csDays0: "0 days (today)",
      csDays2: "2 days",
      csDays5: "5 days",
      csFilterOverdue: "Deadline passed",
      csFilterDead: "Not delivered",
      csTodayIs: "Today: {day}",
      csLoading: "Loading cases…",
      csLoaded: "{n} cases · updated at {time}.",
      csLoaded1: "1 case · updated at {time}.",
      csLoadFailed: "The cases cannot be loaded. Please try again.",
      csDeadForbidden: "Only a supervisor or administrator sees the undelivered cases.",
      csEmptyAll: "There are no cases yet.",
      csEmptyDue: "No reports due within {n} days.",
      csEmptyDue0: "No reports due today or earlier.",
      csEmptyOverdue: "No reports past their deadline.",
      csEmptyDead: "All cases have been delivered.",
      csOverdueCount: " past the deadline",
      csNoneOpen: "No case opened",
      csNoneOpenHint: "Choose a case on the left.",
      csDeadline: "Deadline",
      csNoDeadline: "No deadline",
      csToday: "today",
      csTomorrow: "tomorrow",
      csYesterday: "yesterday",
      csLate: "Deadline passed",
      csLateWhy: "The safety assessment should have started by {day}.",
      csDueWhy: "The safety assessment starts by {day}.",
      csDeadlineRule: "Report: within 5 working days of receipt; urgent (spoed): the same day.",
      csHermelding: "Repeat report",
      csEarlier: "Earlier case",
      csEarlierLabel: "Open the earlier case (received {day})",
      csEarlierOpen: "Open the earlier case",
      csHermeldingWhy: "A report or advice was registered before with the same phone number or e-mail address.",
      csReceived: "Received",
      csSource: "Via",
      csCallerType: "Caller",
      csAdvisor: "Advisor",
      csDelivery: "Delivery",
      csUrgency: "Urgency",
      csGemeente: "Municipality",
      csKind: "Kind",
      csTries: "Tries",
      csLastError: "Last error",
      csOpen: "Open case",
      csOpened: "Case opened: {what}",
      csDetailLoading: "Loading the case…",
      csDetailFailed: "This case cannot be loaded. Please try again.",
      csNotFound: "This case does not exist (any more).",
      csOutcome: "Outcome",
      csSummary: "Summary",
      csExpertise: "Expertise",
      csReporterPhone: "Reporter's phone",
      csReporterEmail: "Reporter's e-mail",
      csContact: "Contact",
      csIntent: "Question at the start",
      csTopic: "Topic",
      csTeam: "Team",
      csCrisis: "Crisis",
      csCrisisStarted: "Crisis procedure started at {time}",
      csCrisisAcked: "Taken on at {time}",
      csCrisisOpen: "Not yet taken on when closed",
      csTranscript: "Conversation",
      csPurged: "Transcript deleted after the retention period",
      csPurgedWhy: "The registration (outcome, deadline, links) is kept.",
      csNoMessages: "No messages in this conversation.",
      csVisitor: "Visitor",
      csAgent: "Advisor",
      csSystem: "System",
      csInternal: "Internal",
      csNoteWhy: "Internal note — never seen by the visitor",
      csColleague: "colleague",
      csCallback: "Callback",
      csPhone: "Phone number",
      csSlot: "Time window",
      csVoicemail: "Voicemail",
      csVoicemailYes: "could be left",
      csVoicemailNo: "do not leave one",
      csAttempts: "Call attempts",
      csNoAttempts: "No call attempts recorded.",
      csRequests: "Requests",
      csRequestStatus: "Status",
      src_chat: "Chat",
      src_callback: "Callback",
      case_melding: "Report (melding)",
      case_advies: "Advice",
      urg_spoed: "Urgent (spoed)",
      urg_hoog: "High",
      urg_midden: "Medium",
      urg_laag: "Low",
      del_pending: "Being delivered",
      del_delivered: "Delivered",
      del_registered: "Registered",
      del_dead: "Not delivered",
      caller_kind: "Child",
      caller_jongere: "Young person",
      caller_volwassene: "Adult",
      caller_professional: "Professional",
      intent_advies: "Advice",
      intent_melding: "Report",
      intent_weet_niet: "Not sure yet",
      rq_open: "Open",
      rq_done: "Handled",
      rq_cancelled: "Cancelled",
      rq_not_reached: "Not reached",
      rq_wrong_number: "Wrong number"
    }
  };
  function t(key, vars) {
    var s = (TEXT[LANG] && TEXT[LANG][key]) || TEXT.nl[key] || key;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] === undefined || vars[k] === null ? "" : String(vars[k]); });
  }
  function applyTexts(root) {
    if (LANG === "nl") return; // the HTML is written in Dutch
    root.querySelectorAll("[data-t]").forEach(function (x) { x.textContent = t(x.dataset.t); });
  }

  // ---- small helpers -------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function label(kind, value) { return (LABELS[kind] && LABELS[kind][value]) || String(value || "—"); }
  function store(key, value) {
    try {
      if (loggingOut && value !== null) return;
      if (value === null || value === undefined) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: memory still holds it */ }
  }
  function load(key, fallback) {
    try { var v = sessionStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString("nl-NL", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Amsterdam" });
  }
  // A moment that may be on another day: "di 1 dec 14:05".
  function dayClock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleDateString("nl-NL", { weekday: "short", day: "numeric", month: "short", timeZone: "Europe/Amsterdam" }) + " " + clock(iso);
  }
  function waited(iso) {
    var s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(sec).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function errorOf(res) { return res && typeof res === "object" && res.error ? res.error : null; }
  function errorText(err, fallback) {
    var m = err && (LANG === "en" && err.message_en ? err.message_en : err.message);
    return m || fallback || "Er ging iets mis. Probeer het opnieuw.";
  }

  // ---- state ---------------------------------------------------------------------------

  var token = load(KEY_TOKEN, null);
  var agent = load(KEY_AGENT, null);
  var drafts = load(KEY_DRAFTS, {});          // {conversationId: {message, note}}
  var outbox = load(KEY_OUTBOX, []);          // [{conversation_id, client_id, text}]
  var socket = null;
  var queueVersion = -1;
  var queueItems = [];
  var convs = new Map();                      // id -> conversation state
  var activeId = null;
  var closingId = null;
  var closingCallback = null;                 // the callback whose outcome form is open, if any
  var reloginOpen = false;
  var loggingOut = false;
  var inFlight = new Map();                   // client_id -> attempt number being sent now
  var attempts = 0;
  var crises = new Map();                     // conversation id -> open crisis alert
  var transferredFrom = new Map();            // conversation id -> name of who transferred it to us
  var offer = null;                           // the open push offer shown to us, if any

  // ---- attention: beep + title flash ---------------------------------------------------

  var baseTitle = document.title;
  var flashTimer = null;
  var flashText = "";
  var audio = null;

  function unlockAudio() {
    try {
      if (!audio) { var C = window.AudioContext || window.webkitAudioContext; if (C) audio = new C(); }
      if (audio && audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  function beep() {
    if (!audio) return;
    try {
      var t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.setValueAtTime(880, t);
      osc.frequency.setValueAtTime(660, t + 0.12);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(t); osc.stop(t + 0.32);
    } catch (e) { /* no sound available */ }
  }
  function flashTitle(text) {
    flashText = crises.size ? t("alarmTitle") : text; // a crisis outranks any other news
    if (flashTimer) return;
    var on = false;
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? "● " + flashText : baseTitle;
    }, 1000);
    document.title = "● " + flashText;
  }
  function stopFlash() {
    if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
    document.title = baseTitle;
  }
  function attention(text, conversationId) {
    var unseen = document.hidden || !document.hasFocus() || (conversationId && conversationId !== activeId);
    if (!unseen) return;
    beep();
    if (document.hidden || !document.hasFocus() || conversationId !== activeId) flashTitle(text);
  }
  function seen() {
    if (document.hidden) return;
    var c = activeId && convs.get(activeId);
    if (c && c.unread) { c.unread = 0; renderTab(c); }
    if (!anyUnread() && !crises.size) stopFlash();
  }
  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);

  function announce(text) {
    var a = $("announcer");
    a.textContent = "";
    setTimeout(function () { a.textContent = text; }, 30);
  }

  // ---- views ---------------------------------------------------------------------------

  function showLogin() {
    $("login-view").hidden = false;
    $("work-view").hidden = true;
    $("callbacks-view").hidden = true;
    $("cases-view").hidden = true;
    $("view-tabs").hidden = true;
    $("session-bar").hidden = true;
    setTimeout(function () { $("login-username").focus(); }, 0);
  }
  function showWork() {
    $("login-view").hidden = true;
    $("session-bar").hidden = false;
    $("view-tabs").hidden = false;
    $("agent-name").textContent = agent ? agent.name : "";
    showView(currentView, false);
  }

  // The chat workspace, the callbacks view and the case register are tab panels of one page:
  // switching never touches the socket, and the crisis alarm, offers and notices stay above all.
  var VIEWS = { chats: "work-view", callbacks: "callbacks-view", cases: "cases-view" };
  var currentView = Object.prototype.hasOwnProperty.call(VIEWS, load(KEY_VIEW, "chats")) ? load(KEY_VIEW, "chats") : "chats";
  function showView(name, focusTab) {
    currentView = Object.prototype.hasOwnProperty.call(VIEWS, name) ? name : "chats";
    store(KEY_VIEW, currentView);
    Object.keys(VIEWS).forEach(function (v) { $(VIEWS[v]).hidden = v !== currentView; });
    Array.prototype.forEach.call($("view-tabs").querySelectorAll("[role=tab]"), function (tab) {
      var on = tab.dataset.view === currentView;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && focusTab) tab.focus();
    });
    if (currentView === "callbacks") onCallbacksShown();
    if (currentView === "cases") onCasesShown();
  }
  $("view-tabs").addEventListener("click", function (e) {
    var tab = e.target.closest("[role=tab]");
    if (tab) showView(tab.dataset.view, true);
  });
  $("view-tabs").addEventListener("keydown", function (e) {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].indexOf(e.key) < 0) return;
    var tabs = Array.prototype.slice.call($("view-tabs").querySelectorAll("[role=tab]"));
    var i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    var next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
    showView(tabs[next].dataset.view, true);
  });
  function updateViewBadges() {
    var n = 0; convs.forEach(function (c) { n += c.unread; });
    setBadge($("view-chats-badge"), n, " " + t("unreadCount", { n: "" }).trim());
  }
  function setBadge(b, n, hiddenText) {
    b.hidden = !n;
    if (b.dataset.n === String(n)) return;
    b.dataset.n = String(n);
    b.textContent = "";
    if (!n) return;
    b.appendChild(document.createTextNode(String(n)));
    b.appendChild(el("span", "visually-hidden", hiddenText)); // read as "3 ongelezen", "1 te bellen"
  }
  function setConn(state, text) {
    var c = $("conn");
    c.className = "conn conn-" + state;
    c.textContent = text;
  }

  async function postLogin(username, password) {
    var r;
    try {
      r = await fetch("/api/agent/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: username, password: password }),
        credentials: "omit",
        cache: "no-store"
      });
    } catch (e) {
      return { error: { message: "De server is niet bereikbaar. Controleer de verbinding en probeer het opnieuw." } };
    }
    var body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.ok && body && body.token) return body;
    if (body && body.error) return body;
    if (r.status === 429) return { error: { message: "Te veel pogingen. Wacht even en probeer het dan opnieuw." } };
    if (r.status === 401) return { error: { message: "Gebruikersnaam of wachtwoord klopt niet." } };
    return { error: { message: "Inloggen lukt nu niet. Probeer het later opnieuw." } };
  }

  var expiryTimer = null;
  function watchExpiry() {
    clearTimeout(expiryTimer);
    var at = load(KEY_EXPIRES, 0);
    if (!at) return;
    var ms = Math.max(0, at - Date.now());
    if (ms > 2147483000) return;
    expiryTimer = setTimeout(askRelogin, ms);
  }

  function rememberSession(body, username) {
    if (body.expires_in) store(KEY_EXPIRES, Date.now() + body.expires_in * 1000 - 30000);
    watchExpiry();
    token = body.token;
    agent = Object.assign({}, body.agent, { username: username });
    store(KEY_TOKEN, token);
    store(KEY_AGENT, agent);
  }

  $("login-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    unlockAudio();
    var u = $("login-username").value.trim(), p = $("login-password").value, err = $("login-error");
    err.hidden = true;
    if (!u || !p) { err.textContent = "Vul je gebruikersnaam en wachtwoord in."; err.hidden = false; return; }
    $("login-submit").disabled = true;
    var body = await postLogin(u, p);
    $("login-submit").disabled = false;
    if (body.error) {
      err.textContent = errorText(body.error);
      err.hidden = false;
      $("login-password").value = "";
      $("login-password").focus();
      return;
    }
    $("login-password").value = "";
    rememberSession(body, u);
    showWork();
    connect();
  });

  // ---- session expiry: log in again without losing anything ----------------------------

  function askRelogin() {
    if (reloginOpen) return;
    reloginOpen = true;
    setConn("off", "Sessie verlopen");
    var d = $("relogin-dialog");
    $("relogin-username").value = (agent && agent.username) || $("login-username").value || "";
    $("relogin-password").value = "";
    $("relogin-error").hidden = true;
    if (!d.open) d.showModal();
    ($("relogin-username").value ? $("relogin-password") : $("relogin-username")).focus();
  }
  $("relogin-dialog").addEventListener("cancel", function (e) { e.preventDefault(); });
  $("relogin-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var u = $("relogin-username").value.trim(), p = $("relogin-password").value, err = $("relogin-error");
    err.hidden = true;
    if (!u || !p) { err.textContent = "Vul je gebruikersnaam en wachtwoord in."; err.hidden = false; return; }
    $("relogin-submit").disabled = true;
    var body = await postLogin(u, p);
    $("relogin-submit").disabled = false;
    if (body.error) { err.textContent = errorText(body.error); err.hidden = false; $("relogin-password").value = ""; return; }
    if (agent && body.agent && agent.id !== body.agent.id) {
      // Another person: nothing of the previous advisor may stay on screen.
      store(KEY_DRAFTS, null); store(KEY_OUTBOX, null);
      rememberSession(body, u);
      location.reload();
      return;
    }
    rememberSession(body, u);
    reloginOpen = false;
    $("relogin-dialog").close();
    showWork();
    // A connection keeps the token it connected with: connect again with the new one.
    if (socket) { if (socket.connected) socket.disconnect(); socket.connect(); } else { connect(); }
  });

  // ---- logout -------------------------------------------------------------------------

  $("logout").addEventListener("click", function () { $("logout-dialog").showModal(); $("logout-cancel").focus(); });
  $("logout-dialog").addEventListener("close", function () {
    if ($("logout-dialog").returnValue !== "confirm") return;
    if (socket) socket.disconnect();
    loggingOut = true;
    [KEY_TOKEN, KEY_AGENT, KEY_DRAFTS, KEY_OUTBOX, KEY_EXPIRES, KEY_VIEW].forEach(function (k) { store(k, null); });
    token = null; agent = null; drafts = {}; outbox = [];
    location.replace("/console");
  });

  // ---- socket --------------------------------------------------------------------------

  function connect() {
    if (typeof io !== "function") { setConn("off", "Chatclient niet geladen"); return; }
    if (socket) { if (!socket.connected) socket.connect(); return; }
    setConn("wait", "Verbinden…");
    socket = io("/agent", {
      auth: function (cb) { cb({ token: token }); },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      timeout: 8000
    });
    socket.on("connect", onConnected);
    socket.on("disconnect", function (reason) {
      setConn("off", "Verbinding verbroken — opnieuw verbinden…");
      convs.forEach(function (c) { c.syncing = false; });
      inFlight.clear(); // their acks will not come; everything pending is sent again on reconnect
      if (reason === "io server disconnect") {
        // The server closed us (e.g. an expired token): connecting again shows why.
        setTimeout(function () { if (socket && !socket.connected && !reloginOpen) socket.connect(); }, 500);
      }
    });
    socket.on("connect_error", function (err) {
      var code = err && err.data && err.data.error && err.data.error.code;
      if (code === "unauthorized") { askRelogin(); return; }
      setConn("off", "Geen verbinding — opnieuw proberen…");
    });
    socket.on("queue", applyQueue);
    socket.on("mine", applyMine);
    socket.on("message", onMessage);
    socket.on("note", onNote);
    socket.on("typing", onTyping);
    socket.on("visitor_left", onVisitorLeft);
    socket.on("outcome_missing", onOutcomeMissing);
    socket.on("visitor_presence", onVisitorPresence);
    socket.on("spoed_melding", onSpoedMelding);
    socket.on("risk", onRisk);
    socket.on("crises", applyCrises);
    socket.on("crisis_alert", onCrisisAlert);
    socket.on("crisis_acked", onCrisisAcked);
    socket.on("crisis_ended", onCrisisEnded);
    socket.on("reader", onReader);
    socket.on("take_over_request", onTakeOverRequest);
    socket.on("take_over_declined", onTakeOverDeclined);
    socket.on("taken_over", onTakenOver);
    socket.on("taken_from_you", onTakenFromYou);
    socket.on("transferred", onTransferred);
    socket.on("offer", onOffer);
    socket.on("offer_withdrawn", onOfferWithdrawn);
    socket.on("tijdvak_started", onTijdvakStarted);
    socket.on("callback_overdue", onCallbackOverdue);
  }

  function call(event, data) {
    return new Promise(function (resolve, reject) {
      if (!socket || !socket.connected) { reject(new Error("offline")); return; }
      socket.timeout(CALL_TIMEOUT_MS).emit(event, data, function (err, res) {
        if (err) { reject(err); return; }
        var e = errorOf(res);
        if (e && e.code === "unauthorized") askRelogin();
        resolve(res);
      });
    });
  }

  async function onConnected() {
    setConn("on", "Verbonden");
    loadRouting();
    var res;
    try { res = await call("sync", {}); } catch (e) { return; }
    if (errorOf(res)) return;
    applyQueue(res.queue);
    applyMine(res.mine);
    applyCrises(res.crises);
    // An offer made while this console was away is still ours until it runs out.
    if (res.offer && (!offer || offer.id !== res.offer.conversation_id)) onOffer(res.offer);
    // Fill every gap of the conversations on screen (also those that ended while we were away).
    convs.forEach(function (c) { loadHistory(c.id); });
    flushOutbox();
  }

  // ---- queue ---------------------------------------------------------------------------

  function applyQueue(q) {
    if (!q || !Array.isArray(q.waiting)) return;
    if (typeof q.version === "number") {
      if (q.version < queueVersion) return; // an older snapshot from another process
      queueVersion = q.version;
    }
    var before = new Set(queueItems.map(function (i) { return i.conversation_id; }));
    queueItems = q.waiting;
    renderQueue();
    checkOfferInQueue();
    var fresh = queueItems.filter(function (i) { return !before.has(i.conversation_id); });
    if (fresh.length && before.size + fresh.length > 0) {
      var danger = fresh.some(function (i) { return i.danger_now; });
      announce(danger ? "Nieuw in de wachtrij: direct gevaar" : "Nieuw gesprek in de wachtrij");
      if (danger || document.hidden || !document.hasFocus()) beep();
      if (document.hidden || !document.hasFocus()) flashTitle(danger ? "Direct gevaar in de wachtrij" : "Nieuw in de wachtrij");
    }
  }

  function renderQueue() {
    // Reorder in place (no rebuild): the list is a live region and must only announce news.
    var list = $("queue");
    var keep = new Map();
    Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
    var wanted = new Set(queueItems.map(function (i) { return i.conversation_id; }));
    keep.forEach(function (li, id) { if (!wanted.has(id)) li.remove(); });
    var prev = null;
    queueItems.forEach(function (item) {
      var li = keep.get(item.conversation_id);
      // Rebuilt when what it shows changed (priority raised, overflow reached).
      if (!li || li.dataset.sig !== itemSig(item)) {
        var fresh = buildQueueItem(item);
        if (li) li.replaceWith(fresh);
        li = fresh;
      }
      var want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    });
    $("queue-count").textContent = String(queueItems.length);
    $("queue-empty").hidden = queueItems.length > 0;
    tickQueue();
  }

  function itemSig(item) {
    return item.priority + "|" + !!item.overflow + "|" + !!item.in_crisis + "|" + (item.visitor_present !== false);
  }

  function buildQueueItem(item) {
    var away = item.visitor_present === false;
    var li = el("li", "q-item" + (item.danger_now || item.in_crisis ? " q-danger" : "") + (item.in_crisis ? " q-crisis" : "") + (item.overflow ? " q-overflow" : "") + (away ? " q-away" : ""));
    li._item = item;
    li.dataset.sig = itemSig(item);
    li.dataset.conversationId = item.conversation_id;
    li.dataset.since = item.waiting_since;
    var top = el("div", "q-top");
    if (item.danger_now) {
      var d = el("span", "badge badge-danger", "⚠ Direct gevaar");
      top.appendChild(d);
    }
    if (item.in_crisis) top.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
    top.appendChild(el("span", "q-who", label("caller_type", item.caller_type)));
    top.appendChild(el("span", "q-intent", label("intent", item.intent)));
    var wait = el("span", "q-wait");
    wait.setAttribute("aria-label", "Wachttijd");
    top.appendChild(wait);
    li.appendChild(top);
    if (item.topic) li.appendChild(el("p", "q-topic", item.topic));
    var risk = risks.get(item.conversation_id);
    if (risk) li.appendChild(el("p", "q-risk" + (risk.level === "acuut" ? " q-risk-acute" : ""), riskText(risk)));
    if (item.overflow) li.appendChild(el("p", "q-overflow-note", "Wacht langer dan de teamgrens: voor iedereen zichtbaar"));
    if (away) li.appendChild(el("p", "q-away-note", item.visitor_away_since ? t("visitorGoneSince", { time: clock(item.visitor_away_since) }) : t("visitorGoneBadge")));
    var foot = el("div", "q-foot");
    foot.appendChild(el("span", "chip", label("team", item.team)));
    foot.appendChild(el("span", "chip chip-prio prio-" + Math.max(0, Math.min(9, Number(item.priority) || 0)), "Prioriteit " + item.priority));
    if (crises.has(item.conversation_id)) {
      // One conversation, one control: the alarm above takes it on.
      foot.appendChild(el("span", "q-in-alarm", t("inAlarm")));
      li.appendChild(foot);
      return li;
    }
    var btn = el("button", "btn btn-small " + (item.danger_now || item.in_crisis ? "btn-danger" : "btn-primary") + " q-accept", "Aannemen");
    btn.type = "button";
    btn.setAttribute("aria-label", "Aannemen: " + label("caller_type", item.caller_type) + ", " + label("intent", item.intent) + (item.danger_now ? ", direct gevaar" : "") + (item.in_crisis ? ", crisis" : "") + (away ? ", " + t("visitorGoneBadge").toLowerCase() : ""));
    btn.addEventListener("click", function () { accept(item.conversation_id, btn); });
    foot.appendChild(btn);
    li.appendChild(foot);
    return li;
  }

  function tickQueue() {
    Array.prototype.forEach.call($("queue").children, function (li) {
      var w = li.querySelector(".q-wait");
      if (w) w.textContent = "wacht " + waited(li.dataset.since);
    });
  }
  setInterval(tickQueue, 1000);

  async function accept(conversationId, btn, confirmAway) {
    var err = $("queue-error");
    err.hidden = true;
    btn.disabled = true;
    var res;
    var ask = { conversation_id: conversationId };
    if (confirmAway) ask.confirm_visitor_away = true;
    try { res = await call("accept", ask); } catch (e) {
      btn.disabled = false;
      err.textContent = "Geen verbinding. Probeer het zo opnieuw."; err.hidden = false; return;
    }
    btn.disabled = false;
    var e2 = errorOf(res);
    // A visitor whose connection is gone is never taken by accident: ask first.
    if (e2 && e2.state === "visitor_away" && !confirmAway) {
      if (window.confirm(t("acceptAwayConfirm", { time: e2.since ? clock(e2.since) : "?" }))) accept(conversationId, btn, true);
      return;
    }
    if (e2) { err.textContent = acceptErrorText(e2); err.hidden = false; return; }
    openAccepted(res.conversation);
  }

  function acceptErrorText(e) {
    return e.code === "capacity_reached" ? t("capacity", { limit: e.limit ? " (" + e.limit + ")" : "" }) : errorText(e);
  }

  function openAccepted(view) {
    var c = upsertConversation(view);
    mergeConversation(c, view);
    showView("chats", false);
    activate(c.id);
  }

  // ---- conversations --------------------------------------------------------------------

  function applyMine(m) {
    if (!m || !Array.isArray(m.conversations)) return;
    var ids = new Set();
    m.conversations.forEach(function (s) {
      ids.add(s.id);
      var known = convs.has(s.id);
      var c = upsertConversation(s);
      if (c.readOnly) { c.readOnly = false; c.takeoverUntil = null; updateComposer(c); renderHeader(c); } // taken over: ours now
      if (!known || (s.last_seq || 0) > c.maxSeq) loadHistory(c.id);
    });
    convs.forEach(function (c) {
      if (!ids.has(c.id) && !c.readOnly && (c.status === "active" || awaitingOutcome(c)) && !c.syncing) {
        // No longer ours: ask the server what happened (ended elsewhere, or by the visitor).
        loadHistory(c.id);
      }
    });
    updateEmpty();
    if (!activeId && convs.size) activate(convs.keys().next().value);
  }

  function upsertConversation(s) {
    var id = s.id;
    var c = convs.get(id);
    if (!c) {
      c = {
        id: id, summary: s, status: s.status || "active", messages: new Map(), notes: new Map(),
        pending: new Map(), unread: 0, maxSeq: 0, nodes: new Map(), typingTimer: null,
        mode: "message", outTyping: false, outTypingTimer: null, lastTypingSent: 0
      };
      convs.set(id, c);
      buildConversation(c);
      if (transferredFrom.has(id)) { setBanner(c, t("transferredIn", { from: transferredFrom.get(id) })); transferredFrom.delete(id); }
      outbox.forEach(function (o) { if (o.conversation_id === id) c.pending.set(o.client_id, o); });
      renderLog(c);
    } else {
      c.summary = Object.assign({}, c.summary, s);
      if (s.status) c.status = s.status;
    }
    renderHeader(c);
    renderTab(c);
    return c;
  }

  function mergeConversation(c, view) {
    if (!view) return;
    c.summary = Object.assign({}, c.summary, view, { messages: undefined, notes: undefined });
    if (view.status) c.status = view.status;
    (view.messages || []).forEach(function (m) { addMessage(c, m, false); });
    (view.notes || []).forEach(function (n) { c.notes.set(n.id, n); });
    if (c.status === "closed") {
      dropPending(c);
      setBanner(c, awaitingOutcome(c) ? (c.summary.quick_exit ? t("visitorFled") : t("visitorLeft"))
        : view.close_reason === "visitor_left" ? "De bezoeker heeft het gesprek verlaten."
        : view.close_reason === "visitor_gone" ? "De bezoeker is weggegaan." : "Dit gesprek is afgesloten.");
    }
    renderHeader(c); renderLog(c); renderTab(c); updateComposer(c); renderCrisis(c);
  }

  async function loadHistory(id) {
    var c = convs.get(id);
    if (!c) return;
    if (c.syncing) { c.again = true; return; } // its answer may predate the change: ask again after
    c.syncing = true;
    c.again = false;
    var res;
    try { res = await call("history", { conversation_id: id }); } catch (e) { c.syncing = false; return; }
    c.syncing = false;
    var err = errorOf(res);
    if (err) { if (err.code === "not_found" || err.code === "forbidden") removeConversation(c); return; }
    if (!convs.has(id)) return; // closed here meanwhile
    mergeConversation(c, res.conversation);
    if (c.again) loadHistory(id);
  }

  function addMessage(c, m, live) {
    if (typeof m.seq !== "number" || c.messages.has(m.seq)) return false;
    c.messages.set(m.seq, m);
    if (m.seq > c.maxSeq) c.maxSeq = m.seq;
    if (live && m.sender === "visitor") {
      if (c.id !== activeId || document.hidden || !document.hasFocus()) {
        c.unread += 1;
      }
      attention("Nieuw bericht", c.id);
      showTyping(c, false);
    }
    return true;
  }

  // The highest seq n with 1..n all here (seqs have no gaps on the server).
  function contiguousSeq(c) {
    var n = c.contiguous || 0;
    while (c.messages.has(n + 1)) n += 1;
    c.contiguous = n;
    return n;
  }

  function onMessage(m) {
    if (!m || !m.conversation_id) return;
    var c = convs.get(m.conversation_id);
    if (!c) { loadHistory(m.conversation_id); return; }
    // A gap (a missed event, also before the first message we have, e.g. the first one after
    // a reconnect): fetch everything at once.
    if (typeof m.seq === "number" && m.seq > contiguousSeq(c) + 1) loadHistory(c.id);
    if (addMessage(c, m, true)) {
      renderLog(c); renderTab(c);
      if (m.sender === "visitor") announce("Nieuw bericht van de bezoeker");
    }
  }

  function onNote(n) {
    var c = n && convs.get(n.conversation_id);
    if (!c || c.notes.has(n.id)) return;
    c.notes.set(n.id, n);
    renderLog(c);
  }

  function onTyping(t) {
    var c = t && convs.get(t.conversation_id);
    if (c) showTyping(c, !!t.typing);
  }

  function showTyping(c, on) {
    var p = c.panel.querySelector(".typing");
    clearTimeout(c.typingTimer);
    p.textContent = on ? "De bezoeker typt…" : "";
    if (on) c.typingTimer = setTimeout(function () { p.textContent = ""; }, 8000);
  }

  // Risk phrases the server found in a visitor's message, per conversation (shown in the
  // queue card and in the conversation itself).
  var risks = new Map();

  function riskText(r) {
    return (r.level === "acuut" ? "⚠ Acuut risico: " : "Risicosignaal: ") + (r.signals || []).join(", ");
  }

  function onRisk(r) {
    if (!r || !r.conversation_id) return;
    risks.set(r.conversation_id, r);
    var c = convs.get(r.conversation_id);
    if (c) setBanner(c, riskText(r));
    // An acute signal starts the crisis procedure on the server: read the crisis and its timeline.
    if (c && r.level === "acuut") loadHistory(c.id);
    var li = document.querySelector('.q-item[data-conversation-id="' + CSS.escape(r.conversation_id) + '"]');
    if (li) li.replaceWith(buildQueueItem(li._item));
    announce(riskText(r));
    beep();
    if (document.hidden || !document.hasFocus()) flashTitle(r.level === "acuut" ? "Acuut risico" : "Risicosignaal");
  }

  function onVisitorLeft(d) {
    var c = d && convs.get(d.conversation_id);
    if (!c) return;
    var fled = !!d.quick_exit || !!c.summary.quick_exit;
    c.status = "closed";
    c.summary = Object.assign({}, c.summary, { visitor_left: true, quick_exit: fled, left_at: c.summary.left_at || d.at });
    if (c.summary.awaiting_outcome !== false) c.summary.awaiting_outcome = true;
    dropPending(c);
    setBanner(c, fled ? t("visitorFled") : t("visitorLeft"));
    showTyping(c, false);
    renderHeader(c); renderTab(c); updateComposer(c);
    attention(fled ? t("quickExitBadge") : "Bezoeker vertrokken", c.id);
    announce(fled ? t("visitorFled") : t("visitorLeft"));
    if (fled) beep();
  }

  // ---- reading along and taking over (crisis worker, supervisor) --------------------------

  // A conversation this console reads along (read-only, live) until it is taken over.
  function openReadAlong(view) {
    var c = upsertConversation(view);
    c.readOnly = true;
    mergeConversation(c, view);
    showView("chats", false);
    activate(c.id);
  }

  async function takeOver(c) {
    var btn = c.panel.querySelector(".act-takeover");
    btn.disabled = true;
    var res;
    try { res = await call("take_over", { conversation_id: c.id }); } catch (e) { btn.disabled = false; showNotice(t("offline")); return; }
    var err = errorOf(res);
    if (err) { btn.disabled = false; showNotice(errorText(err)); return; }
    if (res.state === "taken") {
      c.readOnly = false; c.takeoverUntil = null;
      mergeConversation(c, res.conversation);
      showNotice(t("takeOverDone"), 6000);
      return;
    }
    c.takeoverUntil = res.expires_at;
    setBanner(c, t("takeOverAskedNote", { time: clock(res.expires_at) }));
    renderHeader(c);
    var wait = Math.max(0, new Date(res.expires_at).getTime() - Date.now());
    setTimeout(function () { if (convs.get(c.id) === c) renderHeader(c); }, wait + 200);
  }

  function onReader(d) {
    var c = d && convs.get(d.conversation_id);
    if (c && !c.readOnly) setBanner(c, t("readerJoined", { name: d.by_name || t("byColleague") }));
  }

  function onTakeOverRequest(d) {
    var c = d && convs.get(d.conversation_id);
    if (!c || c.readOnly) return;
    var box = c.panel.querySelector(".conv-takeover");
    c.panel.querySelector(".conv-takeover-text").textContent = t("takeOverRequest", { name: d.by_name || t("byColleague") });
    box.hidden = false;
    attention(t("takeOver"), c.id);
    beep();
  }

  async function answerTakeOver(c, accept) {
    c.panel.querySelector(".conv-takeover").hidden = true;
    var res;
    try { res = await call("take_over_answer", { conversation_id: c.id, accept: accept }); } catch (e) { showNotice(t("offline")); return; }
    var err = errorOf(res);
    if (err) showNotice(errorText(err));
  }

  function onTakeOverDeclined(d) {
    var c = d && convs.get(d.conversation_id);
    if (c) { c.takeoverUntil = null; renderHeader(c); setBanner(c, t("takeOverDeclined", { name: d.by_name || "" })); }
  }

  function onTakenOver(d) {
    var c = d && convs.get(d.conversation_id);
    if (c) { c.readOnly = false; c.takeoverUntil = null; renderHeader(c); updateComposer(c); setBanner(c, t("takeOverDone")); }
  }

  function onTakenFromYou(d) {
    if (!d) return;
    showNotice(t("takenFromYou", { name: d.by_name || t("byColleague") }));
    var c = convs.get(d.conversation_id);
    if (c) { delete drafts[c.id]; store(KEY_DRAFTS, drafts); removeConversation(c); }
  }

  // The visitor's connection of an active chat went, or came back.
  function onVisitorPresence(d) {
    var c = d && convs.get(d.conversation_id);
    if (!c || c.status === "closed") return;
    c.summary = Object.assign({}, c.summary, { visitor_present: !!d.present, visitor_away_since: d.present ? null : d.since });
    setBanner(c, d.present ? t("visitorBack") : t("visitorAway", { time: clock(d.since) }));
    renderHeader(c); renderTab(c);
    announce(d.present ? t("visitorBack") : t("visitorGoneBadge"));
  }

  // Supervisors: a conversation the visitor left got no outcome in time (closed as "geen").
  function onOutcomeMissing(d) {
    if (!d || !d.conversation_id) return;
    showNotice(t("outcomeMissing", { name: d.agent_name || "", fled: d.quick_exit ? t("outcomeMissingFled") : "" }));
    var c = convs.get(d.conversation_id);
    if (c) loadHistory(c.id);
  }

  // The crisis team: a melding with urgency spoed from a conversation the visitor already left.
  function onSpoedMelding(d) {
    if (!d || !d.handoff_id) return;
    showNotice(t("spoedMelding", {
      by: d.by_name || "", gemeente: d.gemeente ? " (" + d.gemeente + ")" : "", summary: d.summary || ""
    }), 0, { label: t("openCase"), run: function () { openCaseById(d.handoff_id); } });
    beep();
    if (document.hidden || !document.hasFocus()) flashTitle(t("spoedFlash"));
  }

  function removeConversation(c) {
    convs.delete(c.id);
    c.panel.remove();
    c.tab.remove();
    delete drafts[c.id]; store(KEY_DRAFTS, drafts);
    dropPending(c);
    if (activeId === c.id) {
      activeId = null;
      if (convs.size) activate(convs.keys().next().value); else $("no-conversation").hidden = false;
    }
    updateEmpty();
  }

  function updateEmpty() {
    $("mine-empty").hidden = convs.size > 0;
    $("no-conversation").hidden = !!activeId && convs.has(activeId);
  }

  // ---- tabs ----------------------------------------------------------------------------

  function renderTab(c) {
    var tab = c.tab;
    tab.textContent = "";
    var name = el("span", "tab-name", label("caller_type", c.summary.caller_type) + " · " + label("intent", c.summary.intent));
    tab.appendChild(name);
    if (c.summary.danger_now || c.summary.in_crisis || c.summary.quick_exit) {
      var badges = el("span", "tab-badges");
      if (c.summary.in_crisis) badges.appendChild(el("span", "badge badge-crisis badge-small", t("crisisBadge")));
      if (c.summary.danger_now) badges.appendChild(el("span", "badge badge-danger badge-small", "Gevaar"));
      if (c.summary.quick_exit) badges.appendChild(el("span", "badge badge-danger badge-small", t("quickExitBadge")));
      tab.appendChild(badges);
    }
    var sub = el("span", "tab-sub", awaitingOutcome(c) ? t("visitorGoneBadge") + " · " + t("outcomeTabSub")
      : c.status === "closed" ? "Beëindigd"
      : c.summary.visitor_present === false ? t("visitorGoneBadge")
      : (c.summary.topic || label("team", c.summary.team)));
    tab.appendChild(sub);
    if (c.unread > 0) {
      var u = el("span", "unread", String(c.unread));
      u.setAttribute("aria-label", c.unread + " ongelezen");
      tab.appendChild(u);
    }
    tab.classList.toggle("tab-closed", c.status === "closed");
    tab.classList.toggle("tab-danger", !!(c.summary.danger_now || c.summary.in_crisis));
    updateViewBadges();
    if (!anyUnread() && !crises.size && !document.hidden) stopFlash();
  }

  function anyUnread() {
    var n = 0; convs.forEach(function (c) { n += c.unread; }); return n > 0;
  }

  function activate(id) {
    var c = convs.get(id);
    if (!c) return;
    activeId = id;
    convs.forEach(function (o) {
      var on = o.id === id;
      o.panel.hidden = !on;
      o.tab.setAttribute("aria-selected", on ? "true" : "false");
      o.tab.tabIndex = on ? 0 : -1;
    });
    c.unread = 0;
    renderTab(c);
    updateEmpty();
    scrollDown(c, true);
    if (currentView === "chats") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
  }

  $("tabs").addEventListener("keydown", function (e) {
    if (["ArrowDown", "ArrowUp", "Home", "End"].indexOf(e.key) < 0) return;
    var tabs = Array.prototype.slice.call($("tabs").children);
    var i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    var next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowDown" ? 1 : -1) + tabs.length) % tabs.length;
    tabs[next].focus();
    activate(tabs[next].dataset.conversationId);
    tabs[next].focus();
  });

  // ---- conversation panel -------------------------------------------------------------

  var panelCounter = 0;

  function buildConversation(c) {
    panelCounter += 1;
    var n = panelCounter;
    var frag = $("tpl-conversation").content.cloneNode(true);
    var panel = frag.querySelector(".conv");
    panel.id = "conv-" + n;
    panel.dataset.conversationId = c.id;
    panel.hidden = true;
    var tab = el("button", "tab");
    tab.type = "button";
    tab.id = "tab-" + n;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panel.id);
    tab.setAttribute("aria-selected", "false");
    tab.tabIndex = -1;
    tab.dataset.conversationId = c.id;
    tab.addEventListener("click", function () { activate(c.id); });
    panel.setAttribute("aria-labelledby", tab.id);

    panel.querySelector(".log").setAttribute("aria-label", "Berichten");
    var radios = panel.querySelectorAll(".modes input");
    radios.forEach(function (r) {
      r.name = "mode-" + n;
      r.addEventListener("change", function () { if (r.checked) setMode(c, r.value); });
    });
    panel.querySelector(".modes").setAttribute("aria-label", "Soort bericht");
    var ta = panel.querySelector(".composer-text");
    ta.id = "composer-" + n;
    panel.querySelector(".composer-label").setAttribute("for", ta.id);
    var d = drafts[c.id] || {};
    ta.value = d.message || "";
    ta.addEventListener("input", function () {
      saveDraft(c, ta.value);
      if (c.mode === "message") sendTyping(c, ta.value.length > 0);
    });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(c); }
    });
    ta.addEventListener("blur", function () { if (c.outTyping) sendTyping(c, false); });
    panel.querySelector(".composer").addEventListener("submit", function (e) { e.preventDefault(); submit(c); });
    panel.querySelector(".act-close").addEventListener("click", function () { openClose(c); });
    panel.querySelector(".act-takeover").addEventListener("click", function () { takeOver(c); });
    panel.querySelector(".act-handover").addEventListener("click", function () { answerTakeOver(c, true); });
    panel.querySelector(".act-keep").addEventListener("click", function () { answerTakeOver(c, false); });
    panel.querySelector(".act-escalate").addEventListener("click", function () { openEscalate(c); });
    panel.querySelector(".act-transfer").addEventListener("click", function () { openTransfer(c); });
    var crisisBox = panel.querySelector(".conv-crisis");
    crisisBox.querySelector(".conv-crisis-title").id = "conv-crisis-title-" + n;
    crisisBox.setAttribute("aria-labelledby", "conv-crisis-title-" + n);
    crisisBox.querySelector(".conv-crisis-timeline").setAttribute("aria-label", t("crisisTimeline"));
    applyTexts(panel);
    panel.querySelector(".act-close-tab").addEventListener("click", function () { removeConversation(c); });

    c.panel = panel;
    c.tab = tab;
    $("conversations").appendChild(panel);
    $("tabs").appendChild(tab);
    setMode(c, "message");
  }

  function setMode(c, mode) {
    var ta = c.panel.querySelector(".composer-text");
    var d = drafts[c.id] || {};
    d[c.mode] = ta.value;                              // keep the draft of the mode we leave
    c.mode = mode;
    ta.value = d[mode] || "";
    drafts[c.id] = d; store(KEY_DRAFTS, drafts);
    var form = c.panel.querySelector(".composer");
    form.classList.toggle("composer-note", mode === "note");
    ta.placeholder = mode === "note"
      ? "Interne notitie — niet zichtbaar voor de bezoeker"
      : "Typ je bericht aan de bezoeker…";
    c.panel.querySelector(".composer-label").textContent = mode === "note" ? "Interne notitie" : "Bericht aan de bezoeker";
    c.panel.querySelector(".composer-send").textContent = mode === "note" ? "Notitie opslaan" : "Versturen";
    c.panel.querySelectorAll(".modes input").forEach(function (r) { r.checked = r.value === mode; });
    if (mode === "note" && c.outTyping) sendTyping(c, false);
  }

  function saveDraft(c, text) {
    var d = drafts[c.id] || {};
    d[c.mode] = text;
    drafts[c.id] = d;
    store(KEY_DRAFTS, drafts);
  }

  function sendTyping(c, on) {
    if (c.status !== "active" || !socket || !socket.connected) return;
    clearTimeout(c.outTypingTimer);
    var now = Date.now();
    if (on) {
      if (!c.outTyping || now - c.lastTypingSent > 3000) {
        c.outTyping = true; c.lastTypingSent = now;
        socket.emit("typing", { conversation_id: c.id, typing: true });
      }
      c.outTypingTimer = setTimeout(function () { sendTyping(c, false); }, 4000);
    } else if (c.outTyping) {
      c.outTyping = false;
      socket.emit("typing", { conversation_id: c.id, typing: false });
    }
  }

  // The visitor left (stop, quick exit) and the advisor may still record the outcome.
  function awaitingOutcome(c) { return c.status === "closed" && !!c.summary.awaiting_outcome; }

  function renderHeader(c) {
    var s = c.summary;
    c.panel.querySelector(".conv-name").textContent =
      label("caller_type", s.caller_type) + " — " + label("intent", s.intent);
    var meta = c.panel.querySelector(".conv-meta");
    meta.textContent = "";
    if (s.in_crisis) meta.appendChild(el("span", "badge badge-crisis", t("crisisBadge")));
    if (s.danger_now) meta.appendChild(el("span", "badge badge-danger", "⚠ Direct gevaar"));
    if (s.topic) meta.appendChild(el("span", "meta-topic", "Onderwerp: " + s.topic));
    if (s.team) meta.appendChild(el("span", "chip", label("team", s.team)));
    if (s.accepted_at) meta.appendChild(el("span", "muted", "aangenomen " + clock(s.accepted_at)));
    if (s.quick_exit) meta.appendChild(el("span", "badge badge-danger", t("quickExitBadge")));
    if (s.visitor_left) meta.appendChild(el("span", "badge badge-gone", s.left_at ? t("visitorGoneSince", { time: clock(s.left_at) }) : t("visitorGoneBadge")));
    else if (c.status !== "closed" && s.visitor_present === false) meta.appendChild(el("span", "badge badge-gone", s.visitor_away_since ? t("visitorGoneSince", { time: clock(s.visitor_away_since) }) : t("visitorGoneBadge")));
    if (awaitingOutcome(c) && s.outcome_due_at) meta.appendChild(el("span", "muted", t("outcomeDue", { time: dayClock(s.outcome_due_at) })));
    var closed = c.status === "closed";
    var reading = !!c.readOnly && !closed;
    if (reading) meta.appendChild(el("span", "badge badge-gone", t("readingBadge")));
    c.panel.querySelector(".act-close").hidden = reading || (closed && !awaitingOutcome(c));
    c.panel.querySelector(".act-escalate").hidden = closed || reading;
    c.panel.querySelector(".act-transfer").hidden = closed || reading;
    c.panel.querySelector(".act-close-tab").hidden = !(closed || c.readOnly) || awaitingOutcome(c);
    var take = c.panel.querySelector(".act-takeover");
    take.hidden = !reading;
    var asked = !!c.takeoverUntil && new Date(c.takeoverUntil).getTime() > Date.now();
    take.disabled = asked;
    take.textContent = asked ? t("takeOverAsked") : c.takeoverUntil ? t("takeOverNow") : t("takeOver");
    c.panel.classList.toggle("conv-danger", !!(s.danger_now || s.in_crisis));
  }

  function setBanner(c, text) {
    var b = c.panel.querySelector(".conv-banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  function updateComposer(c) {
    var closed = c.status === "closed" || !!c.readOnly;
    var form = c.panel.querySelector(".composer");
    form.querySelectorAll("textarea, button, input").forEach(function (x) { x.disabled = closed; });
    form.hidden = closed;
  }

  // ---- the log: messages by seq, notes by time, pending at the end ----------------------

  function timeline(c) {
    var msgs = Array.from(c.messages.values()).sort(function (a, b) { return a.seq - b.seq; });
    var notes = Array.from(c.notes.values()).sort(function (a, b) { return String(a.at) < String(b.at) ? -1 : String(a.at) > String(b.at) ? 1 : 0; });
    var out = [], ni = 0;
    msgs.forEach(function (m) {
      var t = new Date(m.at).getTime();
      while (ni < notes.length && new Date(notes[ni].at).getTime() < t) { out.push({ key: "n:" + notes[ni].id, note: notes[ni] }); ni++; }
      out.push({ key: "m:" + m.seq, msg: m });
    });
    for (; ni < notes.length; ni++) out.push({ key: "n:" + notes[ni].id, note: notes[ni] });
    c.pending.forEach(function (p) { out.push({ key: "p:" + p.client_id, pending: p }); });
    return out;
  }

  function renderLog(c) {
    var log = c.panel.querySelector(".log");
    var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    var items = timeline(c);
    var wanted = new Set(items.map(function (i) { return i.key; }));
    c.nodes.forEach(function (node, key) { if (!wanted.has(key)) { node.remove(); c.nodes.delete(key); } });
    var prev = null;
    items.forEach(function (it) {
      var node = c.nodes.get(it.key);
      if (!node) { node = buildItem(it); c.nodes.set(it.key, node); }
      var want = prev ? prev.nextSibling : log.firstChild;
      if (want !== node) log.insertBefore(node, want);
      prev = node;
    });
    scrollDown(c, nearBottom);
  }

  function scrollDown(c, force) {
    if (!force) return;
    var log = c.panel.querySelector(".log");
    requestAnimationFrame(function () { log.scrollTop = log.scrollHeight; });
  }

  function buildItem(it) {
    if (it.note) {
      var li = el("li", "item note");
      li.dataset.noteId = it.note.id;
      li.appendChild(el("p", "note-label", "Interne notitie — niet zichtbaar voor de bezoeker"));
      li.appendChild(el("p", "text", it.note.text));
      li.appendChild(el("p", "when", clock(it.note.at)));
      return li;
    }
    if (it.pending) {
      var lp = el("li", "item msg msg-agent msg-pending");
      lp.dataset.clientId = it.pending.client_id;
      lp.appendChild(el("p", "who", "Jij"));
      lp.appendChild(el("p", "text", it.pending.text));
      lp.appendChild(el("p", "when", "wordt verzonden…"));
      return lp;
    }
    var m = it.msg;
    if (m.sender === "system") {
      var ls = el("li", "item msg-system");
      ls.dataset.seq = String(m.seq);
      ls.appendChild(el("p", "text", m.text));
      return ls;
    }
    var mine = m.sender === "agent";
    var lm = el("li", "item msg " + (mine ? "msg-agent" : "msg-visitor"));
    lm.dataset.seq = String(m.seq);
    lm.appendChild(el("p", "who", mine ? "Adviseur" : "Bezoeker"));
    lm.appendChild(el("p", "text", m.text));
    lm.appendChild(el("p", "when", clock(m.at)));
    return lm;
  }

  // ---- sending: messages (retried with the same client_id) and notes --------------------

  function saveOutbox() {
    outbox = [];
    convs.forEach(function (c) { c.pending.forEach(function (p) { outbox.push(p); }); });
    store(KEY_OUTBOX, outbox);
  }

  function dropPending(c) {
    if (!c.pending.size) return;
    c.pending.clear();
    saveOutbox();
  }

  function composerError(c, text) {
    var e = c.panel.querySelector(".composer-error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  async function submit(c) {
    var ta = c.panel.querySelector(".composer-text");
    var text = ta.value;
    if (!text.trim()) return;
    composerError(c, "");
    if (c.mode === "note") {
      var res;
      try { res = await call("note", { conversation_id: c.id, text: text }); } catch (e) {
        composerError(c, "Geen verbinding: de notitie is niet opgeslagen. Probeer het zo opnieuw."); return;
      }
      var err = errorOf(res);
      if (err) { composerError(c, errorText(err)); return; }
      c.notes.set(res.id, { id: res.id, text: text, at: new Date().toISOString(), internal: true });
      ta.value = ""; saveDraft(c, "");
      renderLog(c); scrollDown(c, true);
      return;
    }
    var p = { conversation_id: c.id, client_id: newClientId(), text: text };
    c.pending.set(p.client_id, p);
    saveOutbox();
    ta.value = ""; saveDraft(c, "");
    sendTyping(c, false);
    renderLog(c); scrollDown(c, true);
    deliver(p);
  }

  async function deliver(p) {
    if (inFlight.has(p.client_id)) return;
    var c = convs.get(p.conversation_id);
    if (!c || !socket || !socket.connected) return;
    var attempt = ++attempts;
    inFlight.set(p.client_id, attempt);
    var res;
    try { res = await call("message", { conversation_id: p.conversation_id, client_id: p.client_id, text: p.text }); } catch (e) {
      if (inFlight.get(p.client_id) === attempt) {
        inFlight.delete(p.client_id);
        // No answer: the same client_id again (the server stores it once). Also on reconnect.
        setTimeout(function () { if (c.pending.has(p.client_id)) deliver(p); }, 1500);
      }
      return;
    }
    if (inFlight.get(p.client_id) === attempt) inFlight.delete(p.client_id);
    if (!c.pending.has(p.client_id)) return; // answered by an earlier attempt already
    var err = errorOf(res);
    if (err) {
      if (err.code === "unauthorized") return; // kept; sent again after logging in
      if (err.code === "rate_limited" || err.code === "internal" || err.code === "unavailable") { setTimeout(function () { deliver(p); }, 3000); return; }
      c.pending.delete(p.client_id); saveOutbox(); renderLog(c);
      // Give the text back so nothing typed is lost.
      var ta = c.panel.querySelector(".composer-text");
      if (c.mode === "message" && !ta.value) { ta.value = p.text; saveDraft(c, p.text); }
      composerError(c, "Niet verzonden: " + errorText(err));
      return;
    }
    c.pending.delete(p.client_id);
    saveOutbox();
    addMessage(c, { id: res.id, seq: res.seq, at: res.at, sender: "agent", text: p.text }, false);
    renderLog(c);
  }

  function flushOutbox() {
    convs.forEach(function (c) { c.pending.forEach(function (p) { deliver(p); }); });
  }

  // ---- teams and expertise: one source, the routing file on the server -----------------

  var routing = null;                         // {teams: [{id, name, crisis}], expertise: [{id, name}]}
  var routingAsked = 0;

  async function loadRouting() {
    var asked = ++routingAsked;
    var body = null;
    try {
      var r = await fetch("/api/agent/routing", {
        headers: { Authorization: "Bearer " + token },
        credentials: "omit",
        cache: "no-store"
      });
      if (r.ok) body = await r.json();
    } catch (e) { body = null; }
    if (asked !== routingAsked) return;
    var named = function (x) { return x && typeof x.id === "string" && x.id && typeof x.name === "string"; };
    if (!body || !Array.isArray(body.teams) || !Array.isArray(body.expertise)) {
      if (!routing) routingStatus(t("routingFailed"));
      return;
    }
    routing = { teams: body.teams.filter(named), expertise: body.expertise.filter(named) };
    LABELS.team = {};
    routing.teams.forEach(function (x) { LABELS.team[x.id] = x.name; });
    LABELS.expertise = {};
    routing.expertise.forEach(function (x) { LABELS.expertise[x.id] = x.name; });
    renderRoutingForms();
    relabelTeams();
  }
  function routingStatus(text) {
    ["close-expertise-status", "transfer-team-status"].forEach(function (id) {
      $(id).textContent = text || "";
      $(id).hidden = !text;
    });
  }
  // The close form's expertise and the transfer dialog's teams, keeping what is ticked or chosen.
  function renderRoutingForms() {
    var box = $("close-expertise");
    var ticked = new Set(Array.prototype.map.call(box.querySelectorAll("input:checked"), function (x) { return x.value; }));
    box.querySelectorAll("label.check").forEach(function (x) { x.remove(); });
    routing.expertise.forEach(function (x) {
      var lab = el("label", "check");
      var input = document.createElement("input");
      input.type = "checkbox";
      input.name = "expertise";
      input.value = x.id;
      input.checked = ticked.has(x.id);
      lab.appendChild(input);
      lab.appendChild(document.createTextNode(" " + x.name));
      box.appendChild(lab);
    });
    var sel = $("transfer-team"), chosen = sel.value;
    Array.prototype.slice.call(sel.options, 1).forEach(function (o) { o.remove(); });
    routing.teams.forEach(function (x) { sel.appendChild(new Option(x.name, x.id)); });
    sel.value = chosen && LABELS.team[chosen] ? chosen : "";
    routingStatus("");
  }
  // Team names shown before the list came: shown again with their names.
  function relabelTeams() {
    Array.prototype.forEach.call($("queue").children, function (li) { li.dataset.sig = ""; });
    renderQueue();
    convs.forEach(function (c) { renderTab(c); renderHeader(c); });
  }

  // ---- closing with an outcome -------------------------------------------------------

  function openClose(c) {
    closingCallback = null;
    closingId = c.id;
    openCloseForm(t("chatCloseTitle"), t("chatCloseSubmit"), "");
  }
  // The same outcome form, rules and checks as a chat's close, for a callback (console.js below).
  function openCallbackClose(cb) {
    closingId = null;
    closingCallback = cb;
    var refs = selectedRefs(cb);
    var context = t("cbCloseContext", { phone: cb.phone }) + (refs ? " · " + t("cbCloseFor", { refs: refs.join(", ") }) : "");
    openCloseForm(t("cbCloseTitle"), t("cbCloseSubmit"), context);
  }
  // The CBS list of gemeenten, for the melding form's search (loaded once, at the first close).
  var gemeenten = null;
  async function ensureGemeenten() {
    if (gemeenten) return;
    var res = await api("GET", "/api/agent/gemeenten");
    if (res.status !== 200 || !res.body || !Array.isArray(res.body.gemeenten)) return;
    gemeenten = res.body.gemeenten;
    var list = $("gemeente-list");
    list.textContent = "";
    gemeenten.forEach(function (g) { var o = document.createElement("option"); o.value = g; list.appendChild(o); });
  }

  function openCloseForm(title, submit, context) {
    ensureGemeenten();
    if (!routing) loadRouting();
    setText($("close-title"), title);
    setText($("close-submit"), submit);
    setText($("close-context"), context);
    $("close-context").hidden = !context;
    var f = $("close-form");
    f.reset();
    $("close-error").hidden = true;
    f.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
    $("close-dialog").showModal();
    f.querySelector("input[name=kind]:checked").focus();
    updateKindHints();
  }
  function updateKindHints() {
    var melding = $("close-form").querySelector("input[name=kind]:checked").value === "melding";
    $("close-form").classList.toggle("is-melding", melding);
  }
  $("close-form").querySelectorAll("input[name=kind]").forEach(function (r) { r.addEventListener("change", updateKindHints); });
  $("close-cancel").addEventListener("click", function () { $("close-dialog").close(); });
  $("close-dialog").addEventListener("close", function () {
    var cb = closingCallback;
    closingId = null;
    closingCallback = null;
    if (cb) focusCallback(cb.id, "finish");
  });

  function showCloseError(missing, serverMessage) {
    var f = $("close-form");
    var fields = { summary: $("close-summary"), urgency: $("close-urgency"), gemeente: $("close-gemeente") };
    Object.keys(fields).forEach(function (k) {
      if (missing.indexOf(k) >= 0) fields[k].setAttribute("aria-invalid", "true"); else fields[k].removeAttribute("aria-invalid");
    });
    var names = missing.map(function (k) { return label("missing", k); });
    var text = serverMessage || "";
    if (names.length) text = (text ? text + " " : "") + "Vul nog in: " + names.join(", ") + ".";
    var e = $("close-error");
    e.textContent = text;
    e.hidden = false;
    var first = missing.length && fields[missing[0]];
    if (first) first.focus();
    f.classList.add("was-validated");
  }

  $("close-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(closingId);
    if (!c && !closingCallback) { $("close-dialog").close(); return; }
    var f = $("close-form");
    var outcome = { kind: f.querySelector("input[name=kind]:checked").value };
    var summary = $("close-summary").value.trim(), urgency = $("close-urgency").value, gemeente = $("close-gemeente").value.trim();
    if (summary) outcome.summary = summary;
    if (urgency) outcome.urgency = urgency;
    if (gemeente) outcome.gemeente = gemeente;
    var exp = Array.prototype.map.call(f.querySelectorAll("input[name=expertise]:checked"), function (x) { return x.value; });
    if (exp.length) outcome.expertise = exp;
    if (outcome.kind === "melding") {
      var missing = ["summary", "urgency", "gemeente"].filter(function (k) { return !outcome[k]; });
      if (missing.length) { showCloseError(missing, "Een melding is nog niet compleet."); return; }
    }
    if (closingCallback) { finishCallback(closingCallback, outcome); return; }
    $("close-submit").disabled = true;
    var res;
    try { res = await call("close", { conversation_id: c.id, outcome: outcome }); } catch (x) {
      $("close-submit").disabled = false;
      showCloseError([], "Geen verbinding: het gesprek is nog niet afgesloten. Probeer het zo opnieuw."); return;
    }
    $("close-submit").disabled = false;
    var err = errorOf(res);
    if (err) {
      if (err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
      if (err.field === "outcome.gemeente") { showCloseError(["gemeente"], errorText(err)); return; }
      if (err.code === "closed") {
        // Already over; for a conversation the visitor left, the time to record it ran out.
        if (awaitingOutcome(c)) showNotice(t("outcomeLate"));
      } else { showCloseError([], errorText(err)); return; }
    }
    $("close-dialog").close();
    closingId = null;
    // Recorded now: say what (the notice is read out by screen readers). Already over: no claim.
    if (!err) showNotice(closedText("Chat", outcome)); else announce("Gesprek afgesloten");
    delete drafts[c.id]; store(KEY_DRAFTS, drafts);
    removeConversation(c);
  });

  // What a close recorded, in words: "Gesprek afgesloten als melding (urgentie hoog). Het staat in Dossiers."
  function closedText(what, outcome) {
    var kind = outcome.kind === "melding" ? "Melding" : outcome.kind === "advies" ? "Advies" : "Geen";
    var urgency = outcome.urgency ? t("urg_" + outcome.urgency).toLowerCase() : "";
    return t("closed" + what + kind, { urgency: urgency });
  }

  // ---- notices (visible, and read out by screen readers) ---------------------------------

  var noticeTimer = null;
  // `action`: an optional {label, run} for one button beside the text (e.g. open the case).
  function showNotice(text, ms, action) {
    var box = $("notice"), p = $("notice-text"), act = $("notice-action");
    clearTimeout(noticeTimer);
    box.hidden = false;
    act.hidden = !action;
    act.textContent = action ? action.label : "";
    act.onclick = action ? function () { hideNotice(); action.run(); } : null;
    p.textContent = "";
    setTimeout(function () { p.textContent = text; }, 30); // a fresh change, so it is read out
    // A passing remark goes by itself, unless the keyboard is on its button.
    if (ms) noticeTimer = setTimeout(function () { if (!box.contains(document.activeElement)) hideNotice(); }, ms);
  }
  function hideNotice() { clearTimeout(noticeTimer); $("notice").hidden = true; $("notice-text").textContent = ""; }
  $("notice-dismiss").addEventListener("click", hideNotice);

  // ---- crisis: the alarm stays until someone takes it on --------------------------------

  var crisisBeep = null;
  var crisisCounter = 0;

  function crisisWho(by, byName) {
    if (by === "visitor") return t("byVisitor");
    if (by === "system") return t("bySystem");
    return byName || t("byColleague");
  }

  function applyCrises(data) {
    if (!data || !Array.isArray(data.open)) return;
    var fresh = [];
    var next = new Map();
    data.open.forEach(function (a) {
      if (!a || !a.conversation_id) return;
      var known = crises.get(a.conversation_id);
      if (!known || (a.round || 1) > (known.round || 1)) fresh.push(a);
      next.set(a.conversation_id, Object.assign({}, a, known ? { busy: known.busy, error: known.error } : {}));
    });
    var changed = new Set(Array.from(crises.keys()).concat(Array.from(next.keys())));
    crises = next;
    renderCrises();
    changed.forEach(refreshQueueCard);
    if (fresh.length) alarm(); else quietCrisis();
  }

  function onCrisisAlert(a) {
    if (!a || !a.conversation_id) return;
    var known = crises.get(a.conversation_id);
    var newer = !known || (a.round || 1) > (known.round || 1);
    crises.set(a.conversation_id, Object.assign({}, known || {}, a));
    renderCrises();
    if (!known) refreshQueueCard(a.conversation_id);
    if (newer) alarm();
  }

  function onCrisisAcked(d) {
    if (!d || !d.conversation_id) return;
    var mine = agent && d.by === agent.id;
    var who = d.by_name || t("byColleague");
    if (crises.delete(d.conversation_id)) {
      renderCrises();
      quietCrisis();
      refreshQueueCard(d.conversation_id);
      if (!mine) announce(t("announceAcked", { who: who }));
    }
    var c = convs.get(d.conversation_id);
    if (c && !mine) {
      // Ours: the holder hears who took the crisis on, and the timeline is read again.
      c.crisisAck = { who: who, at: d.at };
      c.crisisNote = null;
      renderCrisis(c);
      if (c.panel.hidden) announce(t("announceAcked", { who: who })); // a visible panel says it itself
      loadHistory(c.id);
    }
  }

  // The conversation ended while its crisis still alerted: every console drops the alarm.
  function onCrisisEnded(d) {
    if (!d || !d.conversation_id) return;
    if (crises.delete(d.conversation_id)) {
      renderCrises();
      quietCrisis();
      refreshQueueCard(d.conversation_id);
      showNotice(d.held ? t("crisisEndedHeld") : t("crisisEndedGone"));
    }
    var c = convs.get(d.conversation_id);
    if (c) loadHistory(c.id);
  }

  // A queue card whose conversation is (or no longer is) in the crisis alarm.
  function refreshQueueCard(id) {
    var li = document.querySelector('.q-item[data-conversation-id="' + CSS.escape(id) + '"]');
    if (li && li._item) li.replaceWith(buildQueueItem(li._item));
  }

  function alarm() {
    beep();
    flashTitle(t("alarmTitle"));
    if (!crisisBeep) crisisBeep = setInterval(function () { if (crises.size) beep(); else quietCrisis(); }, 10000);
  }

  function quietCrisis() {
    if (crises.size) return;
    if (crisisBeep) { clearInterval(crisisBeep); crisisBeep = null; }
    if (anyUnread()) flashText = "Nieuw bericht"; else stopFlash();
  }

  var crisisCollapsed = false;
  $("crisis-toggle").addEventListener("click", function () {
    crisisCollapsed = !crisisCollapsed;
    renderCrises();
  });

  function renderCrises() {
    var list = $("crisis-list");
    list.hidden = crisisCollapsed;
    $("crisis-alerts").classList.toggle("is-collapsed", crisisCollapsed);
    var toggle = $("crisis-toggle");
    toggle.setAttribute("aria-expanded", String(!crisisCollapsed));
    setText(toggle, crisisCollapsed ? t("crisisExpand") : t("crisisCollapse"));
    setText($("crisis-count"), crisisCollapsed ? t("crisisCollapsed", { n: crises.size }) : "");
    var keep = new Map();
    var focused = list.contains(document.activeElement);
    Array.prototype.forEach.call(list.children, function (li) { keep.set(li.dataset.conversationId, li); });
    keep.forEach(function (li, id) { if (!crises.has(id)) li.remove(); });
    var prev = null;
    crises.forEach(function (a, id) {
      var li = keep.get(id) || buildCrisisItem(id);
      fillCrisisItem(li, a);
      var want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    });
    $("crisis-alerts").hidden = crises.size === 0;
    // The button in focus went away with its alert: keep the keyboard in the alarm.
    if (focused && !list.contains(document.activeElement)) {
      var next = list.querySelector(".crisis-ack:not(:disabled)");
      if (next) next.focus();
    }
  }

  function buildCrisisItem(id) {
    crisisCounter += 1;
    var li = el("li", "crisis-item");
    li.dataset.conversationId = id;
    var reason = el("p", "crisis-reason");
    reason.id = "crisis-reason-" + crisisCounter;
    li.appendChild(reason);
    li.appendChild(el("p", "crisis-meta"));
    var round = el("p", "crisis-round");
    round.hidden = true;
    li.appendChild(round);
    var btn = el("button", "btn btn-danger crisis-ack", t("ack"));
    btn.type = "button";
    btn.setAttribute("aria-describedby", reason.id);
    btn.addEventListener("click", function () { ackCrisis(id); });
    li.appendChild(btn);
    var err = el("p", "form-error small crisis-error");
    err.hidden = true;
    li.appendChild(err);
    return li;
  }

  function setText(node, text) { if (node.textContent !== text) node.textContent = text; } // no needless re-reading

  function fillCrisisItem(li, a) {
    setText(li.querySelector(".crisis-reason"), a.reason || t("noReason"));
    var status = a.status === "waiting" ? t("statusWaiting")
      : a.status === "closed" ? t("statusClosed")
      : agent && a.holder_id === agent.id ? t("statusMine") : t("statusActive");
    var parts = [t("escalatedBy", { who: crisisWho(a.by, a.by_name) }), t("since", { time: clock(a.escalated_at) })];
    if (a.caller_type) parts.push(label("caller_type", a.caller_type));
    parts.push(status);
    setText(li.querySelector(".crisis-meta"), parts.join(" · "));
    var round = li.querySelector(".crisis-round");
    var n = Number(a.round) || 1;
    round.hidden = n < 2;
    setText(round, n < 2 ? "" : t(a.audience === "everyone" ? "roundEveryone" : "round", { n: n }));
    var btn = li.querySelector(".crisis-ack");
    btn.disabled = !!a.busy;
    setText(btn, a.busy ? t("acking") : t("ack"));
    var err = li.querySelector(".crisis-error");
    setText(err, a.error || "");
    err.hidden = !a.error;
  }

  async function ackCrisis(id) {
    var a = crises.get(id);
    if (!a || a.busy) return;
    a.busy = true; a.error = null;
    renderCrises();
    var res;
    try { res = await call("ack_crisis", { conversation_id: id }); } catch (e) {
      a.busy = false; a.error = t("offline"); renderCrises(); return;
    }
    a.busy = false;
    var err = errorOf(res);
    if (err) {
      var text = err.code === "already_taken" ? t("ackAlreadyTaken")
        : err.code === "forbidden" ? t("ackForbidden")
        : err.code === "conflict" ? t("ackConflict")
        : err.code === "not_found" ? t("ackNotFound") : errorText(err);
      if (["already_taken", "conflict", "not_found", "closed"].indexOf(err.code) >= 0) {
        // Nothing left to take on here: the alarm goes, the reason why stays on screen.
        crises.delete(id); renderCrises(); quietCrisis(); showNotice(text);
      } else if (crises.has(id)) {
        a.error = text; renderCrises();
      }
      return;
    }
    crises.delete(id);
    renderCrises();
    quietCrisis();
    if (res.taken && res.conversation) {
      var c = upsertConversation(res.conversation);
      mergeConversation(c, res.conversation);
      showView("chats", false);
      activate(c.id);
      showNotice(t("ackedTaken"));
    } else if (res.read_along && res.conversation) {
      // Held by a colleague: read it along at once, with "Neem over" at hand.
      openReadAlong(res.conversation);
      showNotice(t("ackedHeld"));
    } else {
      showNotice(t("ackedHeld"));
    }
  }

  // The crisis box in a conversation: where it stands, and the timeline from the history.

  // One line of a crisis timeline, in words (the conversation's crisis box and the case register).
  var TAKEOVER_HOW = { consent: "takeOverHowConsent", no_answer: "takeOverHowNoAnswer", holder_offline: "takeOverHowOffline" };
  function crisisEventText(ev) {
    var who = crisisWho(ev.by, ev.by_name);
    switch (ev.kind) {
      case "escalated": return t("kind_escalated", { who: who }) + (ev.reason ? ": " + ev.reason : "");
      case "alerted": return t("kind_alerted", { n: ev.round || 1, audience: t("audience_" + (ev.audience === "everyone" ? "everyone" : "crisis")) });
      case "acknowledged": return t("kind_acknowledged", { who: who });
      case "ended": return t("kind_ended") + (ev.reason ? " " + ev.reason : "");
      case "take_over_asked": return t("kind_take_over_asked", { who: who });
      case "take_over_no": return t("kind_take_over_no", { who: who });
      case "taken_over": return t("kind_taken_over", { who: who }) + (TAKEOVER_HOW[ev.reason] ? " (" + t(TAKEOVER_HOW[ev.reason]) + ")" : "");
      default: return String(ev.kind || "");
    }
  }

  function renderCrisis(c) {
    var box = c.panel.querySelector(".conv-crisis");
    var cr = c.summary.crisis;
    if (!cr && !c.crisisNote && !c.crisisAck) { box.hidden = true; return; }
    box.hidden = false;
    var events = (cr && Array.isArray(cr.timeline)) ? cr.timeline : [];
    var status = "";
    if (cr && cr.acknowledged_at) {
      var ack = c.crisisAck || { who: t("byColleague") };
      events.forEach(function (ev) { if (ev.kind === "acknowledged") ack = { who: ev.by_name || t("byColleague") }; });
      status = t("crisisAcked", { who: ack.who, time: clock(cr.acknowledged_at) });
    } else if (c.crisisAck) {
      status = t("crisisAcked", { who: c.crisisAck.who, time: clock(c.crisisAck.at) }); // the history follows
    } else if (c.crisisNote) {
      status = c.crisisNote;
    } else if (cr && cr.ended_at) {
      status = t("crisisEndedAt", { time: clock(cr.ended_at) });
    } else if (cr) {
      var lastAlert = null;
      events.forEach(function (ev) { if (ev.kind === "alerted") lastAlert = ev; });
      status = t("crisisWaiting", { time: clock((lastAlert && lastAlert.at) || cr.at) });
    }
    setText(box.querySelector(".conv-crisis-status"), status);
    var list = box.querySelector(".conv-crisis-timeline");
    list.textContent = "";
    events.forEach(function (ev) {
      var li = el("li", "crisis-event crisis-" + ev.kind);
      var when = el("time", null, clock(ev.at));
      when.setAttribute("datetime", ev.at || "");
      li.appendChild(when);
      var text;
      li.appendChild(document.createTextNode(crisisEventText(ev)));
      list.appendChild(li);
    });
    list.hidden = events.length === 0;
  }

  // ---- escalating to the crisis team -------------------------------------------------

  var escalatingId = null;

  function escalateError(text) {
    var e = $("escalate-error");
    e.textContent = text || "";
    e.hidden = !text;
    if (text) $("escalate-reason").setAttribute("aria-invalid", "true"); else $("escalate-reason").removeAttribute("aria-invalid");
  }

  function openEscalate(c) {
    escalatingId = c.id;
    $("escalate-form").reset();
    escalateError("");
    $("escalate-submit").disabled = false;
    $("escalate-dialog").showModal();
    $("escalate-reason").focus();
  }
  $("escalate-cancel").addEventListener("click", function () { $("escalate-dialog").close(); });
  $("escalate-reason").addEventListener("input", function () { if (!$("escalate-error").hidden) escalateError(""); });
  $("escalate-dialog").addEventListener("close", function () {
    var c = convs.get(escalatingId);
    escalatingId = null;
    if (c && !c.panel.hidden) c.panel.querySelector(".act-escalate").focus();
  });

  $("escalate-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(escalatingId);
    if (!c) { $("escalate-dialog").close(); return; }
    var reason = $("escalate-reason").value.trim();
    if (!reason) { escalateError(t("escalateMissing")); $("escalate-reason").focus(); return; }
    if (Array.from(reason).length > 500) { escalateError(t("escalateTooLong")); $("escalate-reason").focus(); return; }
    escalateError("");
    $("escalate-submit").disabled = true;
    var res;
    try { res = await call("escalate", { conversation_id: c.id, reason: reason }); } catch (x) {
      $("escalate-submit").disabled = false;
      escalateError(t("escalateOffline")); return;
    }
    $("escalate-submit").disabled = false;
    var err = errorOf(res);
    if (err) { escalateError(errorText(err)); return; }
    $("escalate-dialog").close();
    c.crisisAck = null;
    c.crisisNote = res.already_running ? t("escalateRunning") : t("escalateSent");
    c.summary = Object.assign({}, c.summary, { in_crisis: true });
    renderHeader(c); renderTab(c); renderCrisis(c);
    loadHistory(c.id);
  });

  // ---- transfer to a team or a colleague ---------------------------------------------

  var transferringId = null;
  var colleaguesAsked = 0;

  function transferError(text, field) {
    var e = $("transfer-error");
    e.textContent = text || "";
    e.hidden = !text;
    ["transfer-team", "transfer-agent"].forEach(function (id) {
      if (field === id) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
    });
  }
  function transferTarget() { return $("transfer-form").querySelector("input[name=target]:checked").value; }
  function syncTransferTarget() {
    var toAgent = transferTarget() === "agent";
    $("transfer-team-field").hidden = toAgent;
    $("transfer-agent-field").hidden = !toAgent;
    transferError("");
  }
  $("transfer-form").querySelectorAll("input[name=target]").forEach(function (r) { r.addEventListener("change", syncTransferTarget); });

  function openTransfer(c) {
    if (!routing) loadRouting();
    transferringId = c.id;
    $("transfer-form").reset();
    syncTransferTarget();
    $("transfer-submit").disabled = false;
    $("transfer-dialog").showModal();
    $("transfer-form").querySelector("input[name=target]:checked").focus();
    loadColleagues();
  }
  $("transfer-cancel").addEventListener("click", function () { $("transfer-dialog").close(); });
  ["transfer-team", "transfer-agent"].forEach(function (id) {
    $(id).addEventListener("change", function () { if (!$("transfer-error").hidden) transferError(""); });
  });
  $("transfer-dialog").addEventListener("close", function () {
    var c = convs.get(transferringId);
    transferringId = null;
    if (c && !c.panel.hidden) c.panel.querySelector(".act-transfer").focus();
  });

  async function loadColleagues() {
    var asked = ++colleaguesAsked;
    var sel = $("transfer-agent"), status = $("transfer-agent-status");
    sel.textContent = "";
    sel.appendChild(new Option(t("chooseColleague"), ""));
    sel.disabled = true;
    status.textContent = t("colleaguesLoading");
    var body = null;
    try {
      var r = await fetch("/api/agent/colleagues", {
        headers: { Authorization: "Bearer " + token },
        credentials: "omit",
        cache: "no-store"
      });
      if (r.status === 401) askRelogin();
      if (r.ok) body = await r.json();
    } catch (e) { body = null; }
    if (asked !== colleaguesAsked) return; // the dialog was opened again meanwhile
    if (!body || !Array.isArray(body.agents)) { status.textContent = t("colleaguesFailed"); return; }
    var me = agent && agent.id;
    var list = body.agents.filter(function (a) { return a && a.id && a.id !== me; });
    list.sort(function (a, b) {
      return (b.online ? 1 : 0) - (a.online ? 1 : 0) || String(a.name).localeCompare(String(b.name), "nl");
    });
    if (!list.length) { status.textContent = t("colleaguesNone"); return; }
    var groups = { true: null, false: null };
    list.forEach(function (a) {
      var on = !!a.online;
      if (!groups[on]) {
        groups[on] = document.createElement("optgroup");
        groups[on].label = on ? t("groupOnline") : t("groupOffline");
        sel.appendChild(groups[on]);
      }
      var teams = (a.teams || []).map(function (x) { return label("team", x); });
      var text = String(a.name) + (teams.length ? " (" + teams.join(", ") + ")" : "") + " — " + (on ? t("online") : t("offline_"));
      var opt = new Option(text, a.id);
      opt.dataset.name = String(a.name);
      groups[on].appendChild(opt);
    });
    sel.disabled = false;
    var online = list.filter(function (a) { return a.online; }).length;
    status.textContent = t("colleaguesCount", { online: online, total: list.length });
  }

  $("transfer-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    var c = convs.get(transferringId);
    if (!c) { $("transfer-dialog").close(); return; }
    var payload = { conversation_id: c.id }, to;
    if (transferTarget() === "agent") {
      var sel = $("transfer-agent");
      if (!sel.value) { transferError(t("transferMissingAgent"), "transfer-agent"); sel.focus(); return; }
      payload.agent_id = sel.value;
      to = sel.selectedOptions[0].dataset.name || sel.selectedOptions[0].textContent;
    } else {
      var team = $("transfer-team");
      if (!team.value) { transferError(t("transferMissingTeam"), "transfer-team"); team.focus(); return; }
      payload.team = team.value;
      to = team.selectedOptions[0].textContent;
    }
    transferError("");
    $("transfer-submit").disabled = true;
    var res;
    try { res = await call("transfer", payload); } catch (x) {
      $("transfer-submit").disabled = false;
      transferError(t("transferOffline")); return;
    }
    $("transfer-submit").disabled = false;
    var err = errorOf(res);
    if (err) {
      var field = payload.agent_id ? "transfer-agent" : "transfer-team";
      if (err.code === "capacity_reached") transferError(t("transferCapacity", { limit: err.limit ? " (" + err.limit + ")" : "" }), field);
      else if (err.code === "not_found") transferError(t("transferNotFound"), field);
      else if (err.code === "forbidden") transferError(t("transferForbidden"));
      else transferError(errorText(err));
      return;
    }
    transferringId = null;
    $("transfer-dialog").close();
    // It has left our `mine`: it closes here, drafts and all.
    removeConversation(c);
    showNotice(t("transferDone", { to: to }));
  });

  function onTransferred(d) {
    if (!d || !d.conversation_id) return;
    var from = d.from || t("byColleague");
    var c = convs.get(d.conversation_id);
    if (c) setBanner(c, t("transferredIn", { from: from })); else transferredFrom.set(d.conversation_id, from);
    announce(t("transferredAnnounce", { from: from }));
    attention(t("transferredAnnounce", { from: from }), d.conversation_id);
  }

  // ---- push offers: a waiting chat offered to this advisor, to accept or let pass -------

  var OFFER_NOTICE_MS = 8000;
  var OFFER_FALLBACK_MS = 120000;             // with a wrong local clock: until the server withdraws it

  function expertiseLabel(code) {
    return (LABELS.expertise && LABELS.expertise[code]) || String(code).replace(/_/g, " ");
  }
  function mmss(s) { return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  function queueHas(id) { return queueItems.some(function (i) { return i.conversation_id === id; }); }
  function offerWhat(o) {
    var parts = [label("caller_type", o.caller_type), label("intent", o.intent)];
    if (o.danger_now) parts.push(t("offerDanger"));
    if (o.topic) parts.push(String(o.topic));
    return parts.join(", ");
  }

  function onOffer(o) {
    if (!o || typeof o.conversation_id !== "string" || !o.conversation_id) return;
    var known = convs.get(o.conversation_id);
    if (known && known.status === "active") return; // ours already
    if (offer && offer.id === o.conversation_id && offer.busy) return;
    var now = Date.now(), deadline = Date.parse(o.expires_at);
    // The server makes an offer with time left on it. If our clock says none is left, our clock
    // is off: the server's withdrawal decides then, and no countdown is shown.
    var trusted = !isNaN(deadline) && deadline > now + 1000;
    offer = {
      id: o.conversation_id, data: o, busy: false, voided: null, warned: false, trusted: trusted,
      deadline: trusted ? deadline : now + OFFER_FALLBACK_MS,
      // A queue snapshot may be older than the offer: only one that had it and then lacks it voids it.
      seenInQueue: queueHas(o.conversation_id)
    };
    renderOffer();
    announce(t("offerAnnounce", { what: offerWhat(o) }));
    beep();
    if (document.hidden || !document.hasFocus()) flashTitle(t("offerFlash"));
  }

  function onOfferWithdrawn(d) {
    if (!d || !offer || d.conversation_id !== offer.id) return;
    var texts = { taken: "offerTaken", ended: "offerGone" };
    voidOffer(t(texts[d.reason] || "offerExpired"));
  }

  function checkOfferInQueue() {
    if (!offer) return;
    if (queueHas(offer.id)) { offer.seenInQueue = true; return; }
    if (!offer.seenInQueue) return;
    var c = convs.get(offer.id);
    voidOffer(c && c.status === "active" ? "" : t("offerGone")); // taken from the queue by us: nothing to say
  }

  // The offer is over. While an answer of ours is on its way, that answer decides what to say.
  function voidOffer(text) {
    if (!offer) return;
    if (offer.busy) { offer.voided = text; return; }
    dropOffer();
    if (text) showNotice(text, OFFER_NOTICE_MS);
  }

  function dropOffer() {
    offer = null;
    renderOffer();
  }

  function renderOffer() {
    var box = $("offer");
    if (!offer) {
      var focused = box.contains(document.activeElement);
      box.hidden = true;
      delete box.dataset.conversationId;
      if (focused) focusAfterOffer();
      return;
    }
    var o = offer.data;
    box.dataset.conversationId = offer.id;
    box.classList.toggle("offer-danger", !!o.danger_now);
    var sum = $("offer-summary");
    sum.textContent = "";
    if (o.danger_now) { sum.appendChild(el("span", "badge badge-danger", t("offerDanger"))); sum.appendChild(document.createTextNode(" ")); }
    sum.appendChild(el("span", "offer-who", label("caller_type", o.caller_type)));
    sum.appendChild(document.createTextNode(" · "));
    sum.appendChild(el("span", "offer-intent", label("intent", o.intent)));
    var topic = $("offer-topic");
    setText(topic, o.topic ? String(o.topic) : "");
    topic.hidden = !o.topic;
    setText($("offer-team"), label("team", o.team));
    var exp = Array.isArray(o.expertise) ? o.expertise : [];
    setText($("offer-expertise"), exp.length ? exp.map(expertiseLabel).join(", ") : t("offerNone"));
    box.querySelector(".offer-countdown").hidden = !offer.trusted;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
    ["offer-accept", "offer-pass"].forEach(function (id) {
      if (offer.busy) $(id).setAttribute("aria-disabled", "true"); else $(id).removeAttribute("aria-disabled");
    });
    box.hidden = false;
    tickOffer();
  }

  function focusAfterOffer() {
    if (currentView === "callbacks") { $("cb-title").focus(); return; }
    var c = activeId && convs.get(activeId);
    if (c && c.status === "active") c.panel.querySelector(".composer-text").focus({ preventScroll: true });
    else $("queue-title").focus();
  }

  function tickOffer() {
    if (!offer) return;
    setText($("offer-waited"), waited(offer.data.waiting_since));
    var left = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
    var cd = $("offer-countdown");
    setText(cd, mmss(left));
    cd.setAttribute("datetime", "PT" + left + "S");
    if (offer.trusted && left <= 10 && left > 0 && !offer.warned) { offer.warned = true; announce(t("offerSoon")); }
    if (left <= 0) voidOffer(offer.trusted ? t("offerExpired") : "");
  }
  setInterval(tickOffer, 1000);

  async function answerOffer(event) {
    if (!offer || offer.busy) return;
    var mine = offer;
    mine.busy = true;
    renderOffer();
    var res;
    try { res = await call(event, { conversation_id: mine.id }); } catch (e) {
      mine.busy = false;
      if (offer !== mine) return;
      // Not sent: the offer stands (the server lets it run out), so it may be tried again.
      if (mine.voided !== null) { voidOffer(mine.voided); return; }
      renderOffer();
      showNotice(t("offline"), OFFER_NOTICE_MS);
      return;
    }
    mine.busy = false;
    if (offer === mine) dropOffer();
    var err = errorOf(res);
    if (err) {
      var text = event === "accept" ? acceptErrorText(err)
        : err.code === "conflict" ? t("offerNotOffered") : errorText(err);
      showNotice(text, OFFER_NOTICE_MS);
      return;
    }
    if (event === "accept" && res.conversation) openAccepted(res.conversation);
    else if (event === "pass") announce(t("offerPassed"));
  }
  $("offer-accept").addEventListener("click", function () { answerOffer("accept"); });
  $("offer-pass").addEventListener("click", function () { answerOffer("pass"); });

  // ---- callbacks: the work list of one day, per tijdvak ----------------------------------
  // Over HTTP with the console's token (GET /api/agent/callbacks and friends). Everything the
  // server sends is put on screen as text only. The list is rebuilt from the server after each
  // action, so what it shows is what the database holds; the keyboard focus is carried over.

  var TZ = "Europe/Amsterdam";
  var CB_REFRESH_MS = 60000;
  var CB_ALERTS_MAX = 6;
  var RESULTS = ["bereikt", "geen_gehoor", "voicemail", "onjuist_nummer"];
  var cb = {
    date: null,            // the day shown, "YYYY-MM-DD"; null: the server's today
    data: null,            // the last work list from the server
    asked: 0,
    busy: new Set(),       // callback ids with a request of ours under way
    notes: new Map(),      // callback id -> {text, error}: the outcome of our last action on it
    roster: new Map(),     // "kind|start" -> {text, error}
    overdue: new Set(),    // callback ids the server flagged overdue (callback_overdue)
    selected: new Map(),   // callback id -> Set of request references an attempt or finish applies to
    pendingFocus: null,    // {key, fallback}: where the keyboard goes after the next rebuild
    alerts: []             // [{text, day}]
  };

  var dayParts = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
  function localDay(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var p = {};
    dayParts.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day;
  }
  function validDay(v) { return /^\d{4}-\d{2}-\d{2}$/.test(v || "") && !isNaN(new Date(v + "T00:00:00Z")); }
  function shiftDay(day, n) {
    var d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function longDay(day) {
    var d = new Date(day + "T12:00:00Z");
    if (isNaN(d)) return "";
    return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  }
  function slotText(start, end) { return clock(start) + "–" + clock(end); }
  function stamp(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleString(LANG === "en" ? "en-GB" : "nl-NL", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: TZ });
  }
  function telHref(phone) { return "tel:" + String(phone || "").replace(/[^\d+]/g, ""); }
  function canRoster() { return !!agent && (agent.role === "supervisor" || agent.role === "admin"); }
  function isOpen(c) { return c.status === "open" || c.status === "claimed"; }

  async function api(method, path, body) {
    var opts = { method: method, headers: { Authorization: "Bearer " + token }, credentials: "omit", cache: "no-store" };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    var r;
    try { r = await fetch(path, opts); } catch (e) { return { status: 0, body: null }; }
    if (r.status === 401) askRelogin();
    var data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, body: data };
  }
  function apiError(res) { return res && res.body && res.body.error ? res.body.error : null; }
  function cbErrorText(res) {
    if (!res || res.status === 0) return t("cbOffline");
    var err = apiError(res);
    var code = err && err.code;
    if (code === "already_taken") return t("cbAlreadyTaken");
    if (code === "closed") return t("cbClosedAlready");
    if (code === "not_found") return t("cbNotFound");
    // "forbidden" with the general text means: not the one who claimed it. A specific text (no
    // voicemail allowed here) says more, so that one is shown as it is.
    if (code === "forbidden" && (!err.message || err.message === "Dat mag je hier niet doen.")) return t("cbForbidden");
    return errorText(err, t("cbLoadFailed"));
  }

  function onCallbacksShown() { loadCallbacks(); }

  async function loadCallbacks(day) {
    if (!token) return;
    if (day !== undefined && day !== cb.date) { cb.date = day; cb.notes.clear(); cb.roster.clear(); }
    var asked = ++cb.asked;
    setText($("cb-status"), t("cbLoading"));
    var res = await api("GET", "/api/agent/callbacks" + (cb.date ? "?date=" + encodeURIComponent(cb.date) : ""));
    if (asked !== cb.asked) return; // a newer question is under way
    var box = $("cb-error");
    if (res.status !== 200 || !res.body || !Array.isArray(res.body.tijdvakken)) {
      setText($("cb-status"), "");
      box.textContent = res.status === 0 ? t("cbOffline") : errorText(apiError(res), t("cbLoadFailed"));
      box.hidden = false;
      return;
    }
    box.hidden = true;
    cb.data = res.body;
    cb.date = String(res.body.date || cb.date || "");
    $("cb-date").value = cb.date;
    $("cb-date").removeAttribute("aria-invalid");
    renderCallbacks();
    setText($("cb-status"), t("cbLoaded", { time: clock(new Date().toISOString()) }));
  }

  function renderCallbacks() {
    var list = $("cb-list"), data = cb.data;
    if (!data) return;
    var active = document.activeElement;
    var had = active && list.contains(active) && active.dataset.key
      ? { key: active.dataset.key, value: active.tagName === "INPUT" ? active.value : null } : null;
    list.textContent = "";
    setText($("cb-day"), longDay(data.date));
    var tvs = data.tijdvakken;
    if (!tvs.length) list.appendChild(el("p", "muted cb-none", t("cbNoTijdvakken")));
    // Requests whose own tijdvak is this one, but whose callback (same number) sits in another.
    var elsewhere = new Map();
    var open = 0;
    tvs.forEach(function (tv) {
      (tv.callbacks || []).forEach(function (c) {
        if (isOpen(c)) open += 1;
        (c.requests || []).forEach(function (q) {
          if (!q.slot || q.slot.start === c.slot.start || q.status !== "open") return;
          var k = c.kind + "|" + q.slot.start;
          elsewhere.set(k, (elsewhere.get(k) || 0) + 1);
        });
      });
    });
    var onlyBooked = $("cb-only-booked").checked, hidden = 0;
    tvs.forEach(function (tv, i) {
      var more = elsewhere.get(tv.kind + "|" + tv.start) || 0;
      if (onlyBooked && !(tv.callbacks || []).length) { hidden += 1; return; }
      list.appendChild(buildTijdvak(tv, i, more));
    });
    if (hidden) list.appendChild(el("p", "muted small cb-hidden", t("cbHiddenEmpty", { n: hidden })));
    updateCallbackBadge(open);
    // Give the keyboard back: where an action sent it, else where it was.
    var want = cb.pendingFocus || had;
    cb.pendingFocus = null;
    var now = document.activeElement;
    if (want && currentView === "callbacks" && (!now || now === document.body || list.contains(now))) {
      var node = list.querySelector('[data-key="' + CSS.escape(want.key) + '"]') ||
        (want.fallback && list.querySelector('[data-key="' + CSS.escape(want.fallback) + '"]'));
      if (node) {
        if (had && want === had && had.value !== null && node.tagName === "INPUT") node.value = had.value;
        node.focus({ preventScroll: false });
      }
    }
  }

  function updateCallbackBadge(open) {
    setBadge($("view-callbacks-badge"), open, t("cbOpenCount"));
  }

  function buildTijdvak(tv, n, elsewhereCount) {
    var calls = tv.callbacks || [];
    var late = calls.some(function (c) { return isOpen(c) && (c.overdue || cb.overdue.has(c.id)); });
    var sec = el("section", "tv" + (calls.length ? "" : " tv-empty") + (late ? " tv-overdue" : ""));
    sec.dataset.kind = tv.kind;
    sec.dataset.start = tv.start;
    var hid = "tv-h-" + n;
    sec.setAttribute("aria-labelledby", hid);
    var head = el("header", "tv-head");
    var h = el("h2", "tv-title");
    h.id = hid;
    h.appendChild(el("span", "tv-time", slotText(tv.start, tv.end)));
    h.appendChild(document.createTextNode(" "));
    h.appendChild(el("span", "tv-kind chip chip-" + tv.kind, t("kind_" + tv.kind) === "kind_" + tv.kind ? String(tv.kind) : t("kind_" + tv.kind)));
    head.appendChild(h);
    var places = tv.capacity === null || tv.capacity === undefined
      ? t("cbBookedUnknown") : t("cbBooked", { booked: tv.booked, capacity: tv.capacity });
    var p = el("p", "tv-places" + (tv.capacity !== null && tv.booked >= tv.capacity ? " tv-full" : ""), places);
    head.appendChild(p);
    if (canRoster() && tv.capacity !== null && tv.capacity !== undefined) head.appendChild(buildRoster(tv, n));
    sec.appendChild(head);
    if (elsewhereCount) sec.appendChild(el("p", "muted small tv-elsewhere", t("cbMergedElsewhere", { n: elsewhereCount })));
    if (!calls.length) {
      sec.appendChild(el("p", "muted small tv-none", t("cbEmptyTijdvak")));
    } else {
      var ol = el("ol", "cb-cards");
      calls.forEach(function (c) { ol.appendChild(buildCallback(c)); });
      sec.appendChild(ol);
    }
    return sec;
  }

  function buildRoster(tv, n) {
    var key = tv.kind + "|" + tv.start;
    var form = el("form", "tv-roster");
    form.noValidate = true;
    var id = "tv-roster-" + n, msgId = "tv-roster-msg-" + n;
    var lab = el("label", "tv-roster-label", t("cbRoster"));
    lab.htmlFor = id;
    lab.appendChild(el("span", "visually-hidden", " — " + slotText(tv.start, tv.end) + ", " + t("kind_" + tv.kind)));
    var input = el("input", "tv-roster-input");
    input.type = "number"; input.min = "0"; input.max = "1000"; input.step = "1"; input.inputMode = "numeric";
    input.id = id;
    input.value = String(tv.capacity);
    input.dataset.key = "roster:" + key;
    input.setAttribute("aria-describedby", msgId);
    var btn = el("button", "btn btn-small btn-outline tv-roster-save", t("cbRosterSave"));
    btn.type = "submit";
    btn.dataset.key = "roster-save:" + key;
    var msg = el("p", "tv-roster-msg small");
    msg.id = msgId;
    msg.setAttribute("role", "status");
    var said = cb.roster.get(key);
    if (said) { msg.textContent = said.text; msg.classList.toggle("is-error", !!said.error); if (said.error) input.setAttribute("aria-invalid", "true"); }
    form.appendChild(lab); form.appendChild(input); form.appendChild(btn); form.appendChild(msg);
    form.addEventListener("submit", function (e) { e.preventDefault(); saveRoster(tv, input, btn, msg); });
    return form;
  }

  async function saveRoster(tv, input, btn, msg) {
    var key = tv.kind + "|" + tv.start;
    var v = input.value.trim();
    if (!/^\d{1,4}$/.test(v) || Number(v) > 1000) {
      cb.roster.set(key, { text: t("cbRosterInvalid"), error: true });
      setText(msg, t("cbRosterInvalid")); msg.classList.add("is-error");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (btn.getAttribute("aria-disabled") === "true") return;
    btn.setAttribute("aria-disabled", "true");
    var res = await api("PUT", "/api/admin/roster", { date: cb.data.date, slot_start: clock(tv.start), kind: tv.kind, capacity: Number(v) });
    btn.removeAttribute("aria-disabled");
    var said;
    if (res.status === 200 && res.body) {
      var b = res.body;
      var text = t("cbRosterSaved", { capacity: b.capacity, booked: b.booked, remaining: b.remaining });
      if (b.capacity < b.booked) text += " " + t("cbRosterBelow");
      said = { text: text, error: false };
    } else {
      said = { text: res.status === 403 ? t("cbRosterForbidden") : cbErrorText(res), error: true };
    }
    cb.roster.set(key, said);
    announce(said.text);
    cb.pendingFocus = { key: said.error ? "roster:" + key : "roster-save:" + key };
    await loadCallbacks();
  }

  function buildCallback(c) {
    var id = c.id;
    var mine = !!agent && c.claimed_by === agent.id && c.status === "claimed";
    var late = isOpen(c) && (c.overdue || cb.overdue.has(id));
    var li = el("li", "cb-card cb-" + c.status + (mine ? " cb-mine" : "") + (late ? " cb-late" : "") + (c.voicemail_allowed ? "" : " cb-novm-card"));
    li.dataset.callbackId = id;
    var base = "cb-" + id.replace(/[^\w-]/g, "");
    var art = el("article", "cb-body");
    art.setAttribute("aria-labelledby", base + "-phone");

    var top = el("div", "cb-top");
    var h = el("h3", "cb-phone-h");
    h.id = base + "-phone";
    var a = el("a", "cb-phone", c.phone);
    a.href = telHref(c.phone);
    a.dataset.key = id + ":phone";
    h.appendChild(a);
    top.appendChild(h);
    var copy = el("button", "btn btn-ghost btn-small cb-copy", t("cbCopy"));
    copy.type = "button";
    copy.dataset.key = id + ":copy";
    copy.addEventListener("click", function () { copyPhone(c, a); });
    top.appendChild(copy);
    var tags = el("div", "cb-tags");
    tags.appendChild(el("span", "chip", label("caller_type", c.caller_type)));
    if (c.merged) tags.appendChild(el("span", "badge badge-merged", t("cbRequests", { n: (c.requests || []).length })));
    if (late) {
      var ov = el("span", "badge badge-overdue", t("cbOverdue"));
      ov.title = t("cbOverdueWhy");
      tags.appendChild(ov);
    }
    top.appendChild(tags);
    art.appendChild(top);

    var st = el("p", "cb-state");
    st.tabIndex = -1;
    st.dataset.key = id + ":card";
    st.appendChild(el("span", "cb-state-label", t("cbStatus") + ": "));
    st.appendChild(el("strong", "cb-status-text", statusText(c)));
    if (c.attempts) st.appendChild(el("span", "cb-attempts", " · " + t("cbAttempts") + ": " + c.attempts));
    if (late) st.appendChild(el("span", "cb-late-why", " · " + t("cbOverdueWhy")));
    art.appendChild(st);

    var vmId = base + "-vm";
    if (!c.voicemail_allowed) {
      var warn = el("div", "cb-novm");
      warn.id = vmId;
      warn.setAttribute("role", "note");
      warn.appendChild(el("p", "cb-novm-title", "⚠ " + t("cbNoVoicemail")));
      warn.appendChild(el("p", "cb-novm-why", t("cbNoVoicemailWhy")));
      art.appendChild(warn);
    } else {
      var okp = el("p", "cb-vm-ok small", t("cbVoicemailOk"));
      okp.id = vmId;
      art.appendChild(okp);
    }

    art.appendChild(buildRequests(c));

    var actions = buildActions(c, mine, vmId);
    if (actions) art.appendChild(actions);
    var note = cb.notes.get(id);
    var msg = el("p", "cb-msg small" + (note && note.error ? " is-error" : ""), note ? note.text : "");
    msg.setAttribute("role", "status");
    art.appendChild(msg);
    li.appendChild(art);
    return li;
  }

  // The requests an attempt or finish applies to: null when the card offers no choice (one open
  // request, or not ours), so the server takes the request being called.
  function selectable(c) {
    var mine = !!agent && c.claimed_by === agent.id && c.status === "claimed";
    var open = (c.requests || []).filter(function (q) { return q.status === "open"; });
    return mine && open.length > 1 ? open : null;
  }
  function selectedSet(c) {
    var open = selectable(c);
    if (!open) return null;
    var refs = open.map(function (q) { return q.reference; });
    var set = cb.selected.get(c.id);
    if (set) set.forEach(function (r) { if (refs.indexOf(r) < 0) set.delete(r); });
    if (!set) {
      set = new Set(open.filter(function (q) { return q.being_called; }).map(function (q) { return q.reference; }));
      cb.selected.set(c.id, set);
    }
    return set;
  }
  function selectedRefs(c) {
    var set = selectedSet(c);
    if (!set) return null;
    return (c.requests || []).map(function (q) { return q.reference; }).filter(function (r) { return set.has(r); });
  }

  function buildRequests(c) {
    var wrap = el("div", "cb-requests");
    var reqs = c.requests || [];
    if (c.merged) wrap.appendChild(el("p", "cb-merged-note small", t("cbMergedNote")));
    var chosen = selectedSet(c);
    var base = "cb-" + c.id.replace(/[^\w-]/g, "");
    if (chosen) {
      var hint = el("p", "cb-applies-hint small", t("cbAppliesHint"));
      hint.id = base + "-applies";
      wrap.appendChild(hint);
    }
    var ol = el("ol", "cb-req-list");
    reqs.forEach(function (q, i) {
      var li = el("li", "cb-req" + (q.being_called ? " cb-req-calling" : "") + (q.status !== "open" ? " cb-req-ended" : ""));
      if (q.being_called && c.merged) li.appendChild(el("p", "cb-req-calling-label small", t("cbBeingCalled")));
      if (chosen && q.status === "open") {
        var pick = el("label", "cb-req-pick small");
        var box = el("input");
        box.type = "checkbox";
        box.checked = chosen.has(q.reference);
        box.dataset.key = c.id + ":pick:" + q.reference;
        box.setAttribute("aria-describedby", base + "-applies");
        box.addEventListener("change", function () {
          if (box.checked) chosen.add(q.reference); else chosen.delete(q.reference);
        });
        pick.appendChild(box);
        pick.appendChild(document.createTextNode(" " + t("cbAppliesTo") + " (" + q.reference + ")"));
        li.appendChild(pick);
      }
      li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : t("cbNoName")));
      li.appendChild(el("p", "cb-req-topic" + (q.topic ? "" : " muted"), q.topic ? String(q.topic) : t("cbNoTopic")));
      var dl = el("dl", "cb-req-facts");
      function fact(name, value) {
        if (value === null || value === undefined || value === "") return;
        var d = el("div");
        d.appendChild(el("dt", null, name));
        d.appendChild(el("dd", null, value));
        dl.appendChild(d);
      }
      fact(t("cbReference"), q.reference);
      fact(reqs.length > 1 ? t("cbCreatedApart") : t("cbCreated"), stamp(q.created_at));
      if (q.slot) fact(t("cbOwnSlot"), slotText(q.slot.start, q.slot.end) + (q.rescheduled ? " (" + t("cbRescheduled") + ")" : ""));
      if (q.status && q.status !== "open") fact(t("cbReqStatus"), known("rq_", q.status));
      if (q.caller_type && q.caller_type !== c.caller_type) fact(t("cbCallerType"), label("caller_type", q.caller_type));
      if (reqs.length > 1) fact(t("cbVoicemailChoice"), t(q.voicemail_ok ? "cbVmYes" : "cbVmNo"));
      fact(t("cbEmail"), q.email);
      fact(t("cbOrganisation"), q.organisation);
      li.appendChild(dl);
      ol.appendChild(li);
    });
    wrap.appendChild(ol);
    var related = Array.isArray(c.related) ? c.related : [];
    if (related.length) {
      wrap.appendChild(el("p", "cb-related-title small", t("cbRelated") + ":"));
      var rl = el("ul", "cb-related small");
      related.forEach(function (r) {
        var refs = (r.requests || []).map(function (q) { return q.reference; }).join(", ") || "—";
        var how = statusText({ status: r.status, outcome: r.outcome ? { kind: r.outcome } : null });
        rl.appendChild(el("li", null, t("cbRelatedItem", { refs: refs, status: how, when: stamp(r.closed_at || r.created_at) })));
      });
      wrap.appendChild(rl);
    }
    return wrap;
  }

  function actionButton(c, key, text, cls, handler) {
    var b = el("button", "btn btn-small " + cls, text);
    b.type = "button";
    b.dataset.key = c.id + ":" + key;
    if (cb.busy.has(c.id)) b.setAttribute("aria-disabled", "true");
    b.addEventListener("click", function () {
      if (b.getAttribute("aria-disabled") === "true" && !b.dataset.why) return;
      handler(b);
    });
    return b;
  }

  function buildActions(c, mine, vmId) {
    if (c.status === "open") {
      var bar = el("div", "cb-actions");
      var claim = actionButton(c, "claim", t("cbClaim"), "btn-primary", function () { claimCallback(c); });
      claim.setAttribute("aria-label", t("cbClaimLabel", { phone: c.phone }));
      bar.appendChild(claim);
      return bar;
    }
    if (!mine) return null;
    var box = el("div", "cb-actions");
    if (c.last_result !== "bereikt") {
      var group = el("div", "cb-results");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t("cbRecord"));
      group.appendChild(el("span", "cb-results-label small", t("cbRecord") + ":"));
      RESULTS.forEach(function (r) {
        var cls = r === "bereikt" ? "btn-outline cb-res-ok" : r === "onjuist_nummer" ? "btn-ghost" : "btn-outline";
        var b = actionButton(c, "res:" + r, t("res_" + r), cls, function (btn) {
          if (btn.dataset.why) { setNote(c.id, t("cbVoicemailDisabled") + " " + t("cbNoVoicemailWhy"), true); return; }
          recordAttempt(c, r);
        });
        if (r === "voicemail" && !c.voicemail_allowed) {
          // aria-disabled keeps it in the tab order, so its reason can still be heard.
          b.setAttribute("aria-disabled", "true");
          b.setAttribute("aria-describedby", vmId);
          b.dataset.why = "novm";
          b.classList.add("cb-res-blocked");
          b.title = t("cbVoicemailDisabled");
        }
        group.appendChild(b);
      });
      box.appendChild(group);
    }
    box.appendChild(actionButton(c, "finish", t("cbFinish"), "btn-primary cb-finish", function () { openCallbackClose(c); }));
    return box;
  }

  function statusText(c) {
    var who = agent && c.claimed_by === agent.id ? t("you") : (c.claimed_by_name || t("byColleague"));
    switch (c.status) {
      case "open": return t("st_open");
      case "claimed":
        if (c.last_result === "bereikt") return t("st_reached", { who: who });
        if (c.next_attempt_at) return t("st_retry", { who: who, time: clock(c.next_attempt_at) });
        return t("st_claimed", { who: who });
      case "not_reached": return t("st_not_reached");
      case "wrong_number": return t("st_wrong_number");
      case "closed":
        var k = c.outcome && c.outcome.kind;
        return k && TEXT.nl["outcome_" + k] ? t("st_closedAs", { kind: t("outcome_" + k) }) : t("st_closed");
      case "cancelled": return t("st_cancelled");
      default: return String(c.status || "—");
    }
  }

  function setNote(id, text, error) {
    cb.notes.set(id, { text: text, error: !!error });
    var card = document.querySelector('.cb-card[data-callback-id="' + CSS.escape(id) + '"] .cb-msg');
    if (card) { card.textContent = text; card.classList.toggle("is-error", !!error); }
    announce(text);
  }

  async function copyPhone(c, link) {
    var ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(c.phone); ok = true; }
    } catch (e) { ok = false; }
    if (!ok) {
      var range = document.createRange();
      range.selectNodeContents(link);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    setNote(c.id, ok ? t("cbCopied") : t("cbCopySelect"));
  }

  async function withBusy(c, work) {
    if (cb.busy.has(c.id)) return;
    cb.busy.add(c.id);
    var card = document.querySelector('.cb-card[data-callback-id="' + CSS.escape(c.id) + '"]');
    if (card) card.querySelectorAll(".cb-actions .btn").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
    try { await work(); } finally { cb.busy.delete(c.id); }
    await loadCallbacks();
  }

  function claimCallback(c) {
    return withBusy(c, async function () {
      var res = await api("POST", "/api/agent/callbacks/" + encodeURIComponent(c.id) + "/claim");
      if (res.status === 200) {
        setNote(c.id, t("cbClaimed", { phone: c.phone }));
        cb.pendingFocus = { key: c.id + ":res:bereikt", fallback: c.id + ":card" };
      } else {
        setNote(c.id, cbErrorText(res), true);
        cb.pendingFocus = { key: c.id + ":card" };
      }
    });
  }

  function recordAttempt(c, result) {
    var refs = selectedRefs(c);
    if (refs && !refs.length) { setNote(c.id, t("cbChooseRequest"), true); return; }
    if (refs && result === "voicemail" && (c.requests || []).some(function (q) { return refs.indexOf(q.reference) >= 0 && !q.voicemail_ok; })) {
      setNote(c.id, t("cbNoVoicemailSelected") + " " + t("cbNoVoicemailWhy"), true);
      return;
    }
    var body = { result: result };
    if (refs) body.requests = refs;
    return withBusy(c, async function () {
      var res = await api("POST", "/api/agent/callbacks/" + encodeURIComponent(c.id) + "/attempts", body);
      var b = res.body;
      if (res.status !== 200 || !b) {
        setNote(c.id, cbErrorText(res), true);
        cb.pendingFocus = { key: c.id + ":res:" + result, fallback: c.id + ":card" };
        return;
      }
      var text = b.state === "reached" ? t("cbStateReached")
        : b.state === "retry" ? t("cbStateRetry", { n: b.attempts, time: clock(b.next_attempt_at) })
        : b.state === "not_reached" ? t("cbStateNotReached", { n: b.attempts })
        : b.state === "wrong_number" ? t("cbStateWrongNumber") : String(b.state || "");
      setNote(c.id, text);
      cb.pendingFocus = b.state === "reached" ? { key: c.id + ":finish", fallback: c.id + ":card" }
        : b.state === "retry" ? { key: c.id + ":res:" + result, fallback: c.id + ":card" } : { key: c.id + ":card" };
    });
  }

  async function finishCallback(c, outcome) {
    var refs = selectedRefs(c);
    if (refs && !refs.length) { showCloseError([], t("cbChooseRequest")); return; }
    var body = { outcome: outcome };
    if (refs) body.requests = refs;
    $("close-submit").disabled = true;
    var res = await api("POST", "/api/agent/callbacks/" + encodeURIComponent(c.id) + "/close", body);
    $("close-submit").disabled = false;
    var err = apiError(res);
    if (res.status === 200) {
      closingCallback = null;
      $("close-dialog").close();
      setNote(c.id, t("cbFinished"));
      showNotice(closedText("Cb", outcome));
      cb.pendingFocus = { key: c.id + ":card" };
      await loadCallbacks();
      return;
    }
    if (res.status === 0) { showCloseError([], t("cbOffline")); return; }
    if (err && err.code === "outcome_incomplete") { showCloseError(err.missing || [], errorText(err)); return; }
    if (err && err.field === "outcome.gemeente") { showCloseError(["gemeente"], errorText(err)); return; }
    if (err && ["closed", "not_found", "forbidden"].indexOf(err.code) >= 0) {
      closingCallback = null;
      $("close-dialog").close();
      setNote(c.id, cbErrorText(res), true);
      cb.pendingFocus = { key: c.id + ":card" };
      await loadCallbacks();
      return;
    }
    showCloseError([], cbErrorText(res));
  }

  function focusCallback(id, key) {
    var list = $("cb-list");
    var node = list.querySelector('[data-key="' + CSS.escape(id + ":" + key) + '"]') ||
      list.querySelector('[data-key="' + CSS.escape(id + ":card") + '"]');
    if (node) node.focus(); else cb.pendingFocus = { key: id + ":" + key, fallback: id + ":card" };
  }

  // ---- the date: a picker, the day before and after, today --------------------------------

  $("cb-dates").setAttribute("aria-label", t("cbChooseDay"));
  $("cb-prev").addEventListener("click", function () { if (cb.date) loadCallbacks(shiftDay(cb.date, -1)); });
  $("cb-next").addEventListener("click", function () { if (cb.date) loadCallbacks(shiftDay(cb.date, 1)); });
  $("cb-today").addEventListener("click", function () { loadCallbacks(null); });
  $("cb-refresh").addEventListener("click", function () { loadCallbacks(); });
  $("cb-only-booked").addEventListener("change", renderCallbacks);
  $("cb-date").addEventListener("change", function () {
    var v = $("cb-date").value;
    if (!validDay(v)) {
      $("cb-date").setAttribute("aria-invalid", "true");
      var box = $("cb-error");
      box.textContent = t("cbBadDate"); box.hidden = false;
      return;
    }
    loadCallbacks(v);
  });

  // Other advisors claim and finish too, and nothing pushes that: read the list again now and then.
  setInterval(function () {
    if (currentView !== "callbacks" || !token || !cb.data || document.hidden || cb.busy.size) return;
    if ($("close-dialog").open || (document.activeElement && document.activeElement.classList.contains("tv-roster-input"))) return;
    loadCallbacks();
  }, CB_REFRESH_MS);

  // ---- live hints: a tijdvak starts; a callback is overdue (supervisors) ------------------

  function addCallbackAlert(text, day) {
    cb.alerts.push({ text: text, day: day });
    if (cb.alerts.length > CB_ALERTS_MAX) cb.alerts.shift();
    var list = $("cb-alerts-list");
    list.textContent = "";
    cb.alerts.forEach(function (a) { list.appendChild(el("li", null, a.text)); });
    $("cb-alerts").hidden = false;
    announce(text);
    if (document.hidden || !document.hasFocus()) { beep(); flashTitle(text); }
  }
  $("cb-alerts-open").addEventListener("click", function () {
    var last = cb.alerts[cb.alerts.length - 1];
    var day = last && last.day;
    if (day && day !== cb.date) cb.date = day;
    showView("callbacks", false);
    $("cb-title").focus();
  });
  $("cb-alerts-dismiss").addEventListener("click", function () {
    var focused = $("cb-alerts").contains(document.activeElement);
    cb.alerts = [];
    $("cb-alerts-list").textContent = "";
    $("cb-alerts").hidden = true;
    if (focused) (currentView === "callbacks" ? $("cb-title") : currentView === "cases" ? $("cs-title") : $("queue-title")).focus();
  });

  function refreshIfShown(iso) {
    if (currentView === "callbacks" && cb.data && localDay(iso) === cb.data.date) loadCallbacks();
  }

  function onTijdvakStarted(d) {
    if (!d || typeof d.start !== "string" || typeof d.end !== "string") return;
    refreshIfShown(d.start);
    var n = Math.max(0, Math.floor(Number(d.callbacks) || 0));
    if (!n) return; // nothing to call in it: no need to interrupt anyone
    var advies = d.kind === "adviesgesprek";
    var what = advies ? (n === 1 ? t("tvAdvies1") : t("tvAdviesN", { n: n }))
      : (n === 1 ? t("tvCallbacks1") : t("tvCallbacksN", { n: n }));
    addCallbackAlert(t(advies ? "tvStartedAdvies" : "tvStarted", { slot: slotText(d.start, d.end), what: what }), localDay(d.start));
  }

  function onCallbackOverdue(d) {
    if (!d || typeof d.callback_id !== "string" || !d.slot) return;
    cb.overdue.add(d.callback_id);
    var status = d.status === "claimed"
      ? t("st_claimed", { who: agent && d.claimed_by === agent.id ? t("you") : t("byColleague") }) : t("st_open");
    addCallbackAlert(t("cbOverdueAlert", { slot: slotText(d.slot.start, d.slot.end), status: status.toLowerCase() }), localDay(d.slot.start));
    if (currentView === "callbacks" && cb.data) renderCallbacks();
    refreshIfShown(d.slot.start);
  }

  // ---- cases: the built-in case register, by deadline ------------------------------------
  // Over HTTP with the console's token (GET /api/agent/cases and /api/agent/cases/{id}). The
  // list is read again whenever the view is opened and on Vernieuwen; what the server sends is
  // put on screen as text only. "Today" is the server's, so the words vandaag/morgen follow the
  // clock the deadlines were computed with, not this computer's.

  var cs = {
    data: null,            // the last list from the server
    asked: 0,
    selected: null,        // id of the case shown in the detail
    detail: null,          // the last case read whole
    detailAsked: 0
  };

  function dayDiff(a, b) { return Math.round((Date.parse(a + "T00:00:00Z") - Date.parse(b + "T00:00:00Z")) / 86400000); }
  function shortDay(day) {
    var d = new Date(day + "T12:00:00Z");
    if (isNaN(d)) return String(day || "");
    return d.toLocaleDateString(LANG === "en" ? "en-GB" : "nl-NL", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  }
  // "vandaag", "morgen", "gisteren", else the date itself.
  function relDay(day, today) {
    if (!validDay(day)) return "";
    var n = validDay(today) ? dayDiff(day, today) : NaN;
    if (n === 0) return t("csToday");
    if (n === 1) return t("csTomorrow");
    if (n === -1) return t("csYesterday");
    return shortDay(day);
  }
  function known(prefix, value) {
    var k = prefix + value;
    return TEXT.nl[k] ? t(k) : String(value === null || value === undefined || value === "" ? "—" : value);
  }
  function csFilter() {
    var r = $("cs-filter").querySelector("input[name=cs-filter]:checked");
    return r ? r.value : "all";
  }
  function csQuery() {
    var f = csFilter();
    if (f === "due") return "?due_within_days=" + encodeURIComponent($("cs-days").value || "0");
    if (f === "overdue") return "?overdue=true";
    if (f === "dead") return "?status=dead";
    return "";
  }
  function deadlineTime(day, today, cls) {
    var tm = el("time", cls || null, relDay(day, today));
    tm.setAttribute("datetime", day);
    tm.title = longDay(day);
    return tm;
  }
  function caseTitle(c) {
    return known("case_", c.kind) + (c.gemeente ? " — " + c.gemeente : "");
  }

  function onCasesShown() {
    $("cs-filter-dead").hidden = !canRoster();
    if (!canRoster() && csFilter() === "dead") $("cs-filter").querySelector("input[value=all]").checked = true;
    loadCases();
  }

  async function loadCases() {
    if (!token) return;
    var asked = ++cs.asked;
    setText($("cs-status"), t("csLoading"));
    var res = await api("GET", "/api/agent/cases" + csQuery());
    if (asked !== cs.asked) return; // a newer question is under way
    var box = $("cs-error");
    if (res.status !== 200 || !res.body || !Array.isArray(res.body.cases)) {
      setText($("cs-status"), "");
      var err = apiError(res);
      box.textContent = res.status === 0 ? t("cbOffline")
        : err && err.code === "forbidden" ? t("csDeadForbidden") : errorText(err, t("csLoadFailed"));
      box.hidden = false;
      return;
    }
    box.hidden = true;
    cs.data = res.body;
    renderCases();
    var n = res.body.cases.length, now = clock(new Date().toISOString());
    setText($("cs-status"), n === 1 ? t("csLoaded1", { time: now }) : t("csLoaded", { n: n, time: now }));
    if (cs.selected) loadCase(cs.selected, false);
  }

  function renderCases() {
    var list = $("cs-list"), data = cs.data;
    if (!data) return;
    var active = document.activeElement;
    var hadKey = active && list.contains(active) && active.dataset.key ? active.dataset.key : null;
    list.textContent = "";
    setText($("cs-today"), validDay(data.today) ? t("csTodayIs", { day: longDay(data.today) }) : "");
    var late = 0;
    data.cases.forEach(function (c) {
      if (c && c.overdue) late += 1;
      if (c && c.id) list.appendChild(buildCaseItem(c, data.today));
    });
    // The badge counts overdue meldingen only when the list holds all of them.
    var f = csFilter();
    if (f === "all" || f === "overdue") setBadge($("view-cases-badge"), late, t("csOverdueCount"));
    var empty = $("cs-empty");
    empty.hidden = data.cases.length > 0;
    if (!data.cases.length) {
      var days = $("cs-days").value;
      empty.textContent = f === "due" ? (days === "0" ? t("csEmptyDue0") : t("csEmptyDue", { n: days }))
        : f === "overdue" ? t("csEmptyOverdue") : f === "dead" ? t("csEmptyDead") : t("csEmptyAll");
    }
    if (hadKey) {
      var node = list.querySelector('[data-key="' + CSS.escape(hadKey) + '"]');
      if (node) node.focus(); else $("cs-title").focus();
    }
  }

  function fact(dl, name, value, cls) {
    if (value === null || value === undefined || value === "") return null;
    var d = el("div", cls || null);
    d.appendChild(el("dt", null, name));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    d.appendChild(dd);
    dl.appendChild(d);
    return dd;
  }

  function lateBadge() {
    var b = el("span", "badge badge-late");
    b.appendChild(el("span", null, "⚠ ")).setAttribute("aria-hidden", "true");
    b.appendChild(document.createTextNode(t("csLate")));
    return b;
  }

  function buildCaseItem(c, today) {
    var li = el("li", "cs-item" + (c.overdue ? " cs-overdue" : "") + (c.id === cs.selected ? " is-selected" : ""));
    li.dataset.caseId = c.id;
    var top = el("div", "cs-top");
    var dl = el("p", "cs-deadline" + (c.deadline ? "" : " cs-nodeadline"));
    dl.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
    if (c.deadline) dl.appendChild(deadlineTime(c.deadline, today, "cs-deadline-day"));
    else dl.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
    top.appendChild(dl);
    if (c.overdue) top.appendChild(lateBadge());
    if (c.hermelding) top.appendChild(el("span", "badge badge-herm", t("csHermelding")));
    li.appendChild(top);

    var h = el("h2", "cs-item-title");
    var open = el("button", "cs-open", caseTitle(c));
    open.type = "button";
    open.dataset.key = c.id + ":open";
    if (c.id === cs.selected) open.setAttribute("aria-current", "true");
    open.addEventListener("click", function () { openCase(c.id); });
    h.appendChild(open);
    li.appendChild(h);

    var tags = el("p", "cs-tags");
    tags.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
    if (c.urgency) tags.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
    li.appendChild(tags);

    var facts = el("dl", "cs-facts");
    fact(facts, t("csGemeente"), c.gemeente || "—");
    fact(facts, t("csCallerType"), known("caller_", c.caller_type));
    fact(facts, t("csSource"), known("src_", c.source));
    fact(facts, t("csReceived"), stamp(c.received_at));
    fact(facts, t("csAdvisor"), c.advisor_name || "—");
    var d = c.delivery || {};
    fact(facts, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
    if (canRoster() && (d.status === "dead" || d.last_error)) {
      fact(facts, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
      fact(facts, t("csLastError"), d.last_error || "—", "cs-last-error");
    }
    li.appendChild(facts);

    if (c.hermelding && c.repeat_of) li.appendChild(earlierLink(c.repeat_of, c.id + ":earlier"));
    return li;
  }

  function earlierLink(id, key) {
    var p = el("p", "cs-earlier");
    var b = el("button", "linkish", t("csEarlierOpen"));
    b.type = "button";
    if (key) b.dataset.key = key;
    b.dataset.caseId = id;
    var known_ = cs.data && cs.data.cases.filter(function (x) { return x.id === id; })[0];
    if (known_) b.setAttribute("aria-label", t("csEarlierLabel", { day: stamp(known_.received_at) }));
    b.addEventListener("click", function () { openCase(id); });
    p.appendChild(b);
    return p;
  }

  // From elsewhere (a spoedmelding notice): the case register with this case open.
  function openCaseById(id) {
    showView("cases", false);
    openCase(id);
  }

  function openCase(id) {
    cs.selected = id;
    Array.prototype.forEach.call($("cs-list").querySelectorAll(".cs-item"), function (li) {
      var on = li.dataset.caseId === id;
      li.classList.toggle("is-selected", on);
      var b = li.querySelector(".cs-open");
      if (on) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
    loadCase(id, true);
  }

  async function loadCase(id, focus) {
    var asked = ++cs.detailAsked;
    var box = $("cs-detail");
    if (focus || !cs.detail || cs.detail.id !== id) {
      box.textContent = "";
      box.appendChild(el("p", "muted cs-detail-msg", t("csDetailLoading")));
    }
    var res = await api("GET", "/api/agent/cases/" + encodeURIComponent(id));
    if (asked !== cs.detailAsked) return;
    if (res.status !== 200 || !res.body || typeof res.body !== "object") {
      var err = apiError(res);
      box.textContent = "";
      var msg = el("p", "form-error cs-detail-msg", res.status === 0 ? t("cbOffline")
        : err && err.code === "not_found" ? t("csNotFound") : errorText(err, t("csDetailFailed")));
      msg.setAttribute("role", "alert");
      box.appendChild(msg);
      return;
    }
    cs.detail = res.body;
    var scroll = box.scrollTop;
    renderCase(res.body);
    if (focus) {
      var h = $("cs-detail-title");
      if (h) h.focus();
      box.scrollTop = 0;
    } else {
      box.scrollTop = scroll;
    }
  }

  function section(parent, title, cls) {
    var s = el("section", "cs-sec" + (cls ? " " + cls : ""));
    var h = el("h3", "cs-sec-title", title);
    s.appendChild(h);
    parent.appendChild(s);
    return s;
  }

  function renderCase(c) {
    var box = $("cs-detail");
    var ho = (c.handoff && typeof c.handoff === "object") ? c.handoff : {};
    var today = cs.data && cs.data.today;
    box.textContent = "";
    var art = el("article", "cs-case" + (c.overdue ? " cs-overdue" : ""));
    art.dataset.caseId = c.id;

    var head = el("header", "cs-case-head");
    var h = el("h2", "cs-case-title", caseTitle(c));
    h.id = "cs-detail-title";
    h.tabIndex = -1;
    head.appendChild(h);
    var meta = el("p", "cs-tags");
    meta.appendChild(el("span", "chip chip-kind chip-" + (c.kind === "melding" ? "melding" : "advies"), known("case_", c.kind)));
    if (c.urgency) meta.appendChild(el("span", "chip chip-urg chip-urg-" + String(c.urgency).replace(/\W/g, ""), t("csUrgency") + ": " + known("urg_", c.urgency)));
    if (c.hermelding) meta.appendChild(el("span", "badge badge-herm", t("csHermelding")));
    if (c.overdue) meta.appendChild(lateBadge());
    head.appendChild(meta);
    art.appendChild(head);
    box.setAttribute("aria-labelledby", "cs-detail-title");

    // The deadline: what it means, and whether it passed.
    var dbox = el("div", "cs-deadline-box" + (c.overdue ? " is-late" : "") + (c.deadline ? "" : " is-none"));
    var dp = el("p", "cs-deadline-main");
    dp.appendChild(el("span", "cs-deadline-label", t("csDeadline") + ": "));
    if (c.deadline) {
      var tm = el("time", "cs-deadline-day", longDay(c.deadline));
      tm.setAttribute("datetime", c.deadline);
      dp.appendChild(tm);
      var rel = relDay(c.deadline, today);
      if (rel && rel !== shortDay(c.deadline)) dp.appendChild(document.createTextNode(" (" + rel + ")"));
    } else {
      dp.appendChild(el("span", "cs-deadline-day", t("csNoDeadline")));
    }
    dbox.appendChild(dp);
    if (c.deadline) {
      dbox.appendChild(el("p", "cs-deadline-why small", c.overdue
        ? "⚠ " + t("csLate") + ". " + t("csLateWhy", { day: longDay(c.deadline) })
        : t("csDueWhy", { day: longDay(c.deadline) })));
      dbox.appendChild(el("p", "muted small", t("csDeadlineRule")));
    }
    art.appendChild(dbox);

    if (c.purged) {
      var pb = el("p", "cs-purged cs-purged-top");
      pb.appendChild(el("strong", null, t("csPurged")));
      pb.appendChild(document.createTextNode(". " + t("csPurgedWhy")));
      art.appendChild(pb);
    }
    if (c.hermelding) {
      var hb = el("div", "cs-herm-box");
      hb.appendChild(el("p", "small", t("csHermeldingWhy")));
      if (c.repeat_of) hb.appendChild(earlierLink(c.repeat_of, null));
      art.appendChild(hb);
    }

    // The outcome as the advisor closed it.
    var oc = (ho.outcome && typeof ho.outcome === "object") ? ho.outcome : {};
    var so = section(art, t("csOutcome"), "cs-outcome");
    var odl = el("dl", "cs-dl");
    fact(odl, t("csKind"), known("case_", oc.kind || c.kind));
    fact(odl, t("csUrgency"), oc.urgency || c.urgency ? known("urg_", oc.urgency || c.urgency) : null);
    fact(odl, t("csGemeente"), oc.gemeente || c.gemeente);
    var exp = Array.isArray(oc.expertise) ? oc.expertise : Array.isArray(ho.expertise) ? ho.expertise : [];
    if (exp.length) fact(odl, t("csExpertise"), exp.map(expertiseLabel).join(", "));
    if (!c.purged) {
      fact(odl, t("csReporterPhone"), oc.phone);
      fact(odl, t("csReporterEmail"), oc.email);
    }
    so.appendChild(odl);
    if (oc.summary) {
      so.appendChild(el("h4", "cs-sub", t("csSummary")));
      so.appendChild(el("p", "cs-summary", oc.summary));
    }

    // Who, when, how.
    var sc = section(art, t("csContact"), "cs-contact");
    var cdl = el("dl", "cs-dl");
    fact(cdl, t("csReceived"), stamp(c.received_at || ho.received_at));
    fact(cdl, t("csSource"), ho.callback && ho.callback.kind ? known("kind_", ho.callback.kind) : known("src_", c.source));
    fact(cdl, t("csCallerType"), known("caller_", c.caller_type || ho.caller_type));
    if (ho.intent) fact(cdl, t("csIntent"), known("intent_", ho.intent));
    if (ho.team) fact(cdl, t("csTeam"), label("team", ho.team));
    if (ho.topic) fact(cdl, t("csTopic"), ho.topic, "cs-topic");
    fact(cdl, t("csAdvisor"), (ho.advisor && ho.advisor.name) || c.advisor_name || "—");
    var d = c.delivery || {};
    fact(cdl, t("csDelivery"), known("del_", d.status), "cs-delivery cs-del-" + String(d.status || "").replace(/\W/g, ""));
    if (canRoster() && (d.status === "dead" || d.last_error)) {
      fact(cdl, t("csTries"), String(d.tries === undefined || d.tries === null ? "—" : d.tries), "cs-tries");
      fact(cdl, t("csLastError"), d.last_error || "—", "cs-last-error");
    }
    sc.appendChild(cdl);

    if (ho.crisis && typeof ho.crisis === "object") art.appendChild(buildCaseCrisis(ho.crisis));
    if (ho.callback && typeof ho.callback === "object") art.appendChild(buildCaseCallback(c, ho));
    // A callback has no chat: its transcript section only if something was written in it.
    var written = (Array.isArray(ho.transcript) && ho.transcript.length) || (Array.isArray(ho.notes) && ho.notes.length);
    if (c.source !== "callback" || written) art.appendChild(buildTranscript(c, ho));
    box.appendChild(art);
  }

  function buildCaseCrisis(cr) {
    var s = el("section", "cs-sec cs-crisis");
    s.appendChild(el("h3", "cs-sec-title", t("csCrisis")));
    var p = el("p", "cs-crisis-status");
    p.appendChild(document.createTextNode(t("csCrisisStarted", { time: stamp(cr.at) }) + (cr.reason ? ": " + cr.reason : "") + ". "));
    p.appendChild(el("strong", null, cr.acknowledged_at ? t("csCrisisAcked", { time: stamp(cr.acknowledged_at) }) : t("csCrisisOpen")));
    s.appendChild(p);
    var events = Array.isArray(cr.timeline) ? cr.timeline : [];
    if (events.length) {
      var ol = el("ol", "conv-crisis-timeline cs-crisis-timeline");
      ol.setAttribute("aria-label", t("crisisTimeline"));
      events.forEach(function (ev) {
        if (!ev || typeof ev !== "object") return;
        var li = el("li", "crisis-event crisis-" + String(ev.kind || "").replace(/\W/g, ""));
        var when = el("time", null, clock(ev.at));
        when.setAttribute("datetime", ev.at || "");
        li.appendChild(when);
        li.appendChild(document.createTextNode(crisisEventText(ev)));
        ol.appendChild(li);
      });
      s.appendChild(ol);
    }
    return s;
  }

  function buildCaseCallback(c, ho) {
    var cbk = ho.callback;
    var s = el("section", "cs-sec cs-callback");
    s.appendChild(el("h3", "cs-sec-title", t("csCallback")));
    var dl = el("dl", "cs-dl");
    fact(dl, t("csKind"), known("kind_", cbk.kind));
    if (!c.purged && cbk.phone) fact(dl, t("csPhone"), cbk.phone, "cs-phone");
    if (cbk.slot) fact(dl, t("csSlot"), (cbk.slot.start ? shortDay(localDay(cbk.slot.start)) + " " : "") + slotText(cbk.slot.start, cbk.slot.end));
    if (cbk.voicemail_allowed !== undefined && cbk.voicemail_allowed !== null) fact(dl, t("csVoicemail"), cbk.voicemail_allowed ? t("csVoicemailYes") : t("csVoicemailNo"));
    s.appendChild(dl);

    s.appendChild(el("h4", "cs-sub", t("csAttempts")));
    var tries = Array.isArray(cbk.attempts) ? cbk.attempts : [];
    if (!tries.length) s.appendChild(el("p", "muted small", t("csNoAttempts")));
    else {
      var ol = el("ol", "cs-attempts");
      tries.forEach(function (a) {
        if (!a || typeof a !== "object") return;
        var li = el("li");
        var tm = el("time", null, stamp(a.at));
        tm.setAttribute("datetime", a.at || "");
        li.appendChild(tm);
        li.appendChild(document.createTextNode(" — " + known("res_", a.result)));
        ol.appendChild(li);
      });
      s.appendChild(ol);
    }

    s.appendChild(el("h4", "cs-sub", t("csRequests")));
    if (c.purged || !Array.isArray(ho.requests)) {
      s.appendChild(el("p", "cs-purged", t("csPurged")));
      return s;
    }
    var rl = el("ol", "cb-req-list cs-requests");
    ho.requests.forEach(function (q) {
      if (!q || typeof q !== "object") return;
      var li = el("li", "cb-req");
      li.appendChild(el("p", "cb-req-name" + (q.name ? "" : " muted"), q.name ? String(q.name) : t("cbNoName")));
      li.appendChild(el("p", "cb-req-topic" + (q.topic ? "" : " muted"), q.topic ? String(q.topic) : t("cbNoTopic")));
      var qd = el("dl", "cb-req-facts");
      fact(qd, t("cbReference"), q.reference);
      fact(qd, t("cbCreated"), stamp(q.created_at));
      if (q.slot) fact(qd, t("cbOwnSlot"), slotText(q.slot.start, q.slot.end));
      fact(qd, t("cbCallerType"), q.caller_type ? known("caller_", q.caller_type) : null);
      fact(qd, t("cbEmail"), q.email);
      fact(qd, t("cbOrganisation"), q.organisation);
      fact(qd, t("csRequestStatus"), q.status ? known("rq_", q.status) : null);
      li.appendChild(qd);
      rl.appendChild(li);
    });
    s.appendChild(rl);
    return s;
  }

  // Messages by seq, each internal note before the first message written after it.
  function caseTimeline(ho) {
    var msgs = (Array.isArray(ho.transcript) ? ho.transcript : []).filter(function (m) { return m && typeof m === "object"; })
      .slice().sort(function (a, b) { return (Number(a.seq) || 0) - (Number(b.seq) || 0); });
    var notes = (Array.isArray(ho.notes) ? ho.notes : []).filter(function (n) { return n && typeof n === "object"; })
      .slice().sort(function (a, b) { return Date.parse(a.at) - Date.parse(b.at); });
    var out = [], ni = 0;
    msgs.forEach(function (m) {
      var at = Date.parse(m.at);
      while (ni < notes.length && Date.parse(notes[ni].at) < at) out.push({ note: notes[ni++] });
      out.push({ msg: m });
    });
    for (; ni < notes.length; ni++) out.push({ note: notes[ni] });
    return out;
  }

  function buildTranscript(c, ho) {
    var s = el("section", "cs-sec cs-transcript");
    s.appendChild(el("h3", "cs-sec-title", t("csTranscript")));
    if (c.purged || (!Array.isArray(ho.transcript) && !Array.isArray(ho.notes))) {
      var p = el("p", "cs-purged", t("csPurged"));
      s.appendChild(p);
      s.appendChild(el("p", "muted small", t("csPurgedWhy")));
      return s;
    }
    var items = caseTimeline(ho);
    if (!items.length) { s.appendChild(el("p", "muted small", t("csNoMessages"))); return s; }
    var advisorId = ho.advisor && ho.advisor.id, advisorName = ho.advisor && ho.advisor.name;
    var ol = el("ol", "cs-log");
    items.forEach(function (it) {
      var li, tm;
      if (it.note) {
        li = el("li", "cs-msg cs-note");
        var lab = el("p", "cs-who");
        lab.appendChild(el("span", "badge badge-intern", t("csInternal")));
        lab.appendChild(document.createTextNode(" " + t("csNoteWhy") + " · " +
          (it.note.agent_id && it.note.agent_id === advisorId && advisorName ? advisorName : t("csColleague"))));
        li.appendChild(lab);
        li.appendChild(el("p", "text", it.note.text));
        tm = el("time", "when", clock(it.note.at));
        tm.setAttribute("datetime", it.note.at || "");
        li.appendChild(tm);
        ol.appendChild(li);
        return;
      }
      var m = it.msg;
      var who = m.sender === "visitor" ? "visitor" : m.sender === "agent" ? "agent" : "system";
      li = el("li", "cs-msg cs-msg-" + who);
      li.appendChild(el("p", "cs-who", who === "visitor" ? t("csVisitor") : who === "agent" ? t("csAgent") : t("csSystem")));
      li.appendChild(el("p", "text", m.text));
      tm = el("time", "when", clock(m.at));
      tm.setAttribute("datetime", m.at || "");
      li.appendChild(tm);
      ol.appendChild(li);
    });
    s.appendChild(ol);
    return s;
  }

  $("cs-refresh").addEventListener("click", function () { loadCases(); });
  $("cs-filter").addEventListener("change", function (e) {
    if (e.target && e.target.id === "cs-days") $("cs-filter-due").checked = true;
    loadCases();
  });

  // ---- start -----------------------------------------------------------------------------

  window.addEventListener("beforeunload", function () {
    if (loggingOut) return;
    store(KEY_DRAFTS, drafts); saveOutbox();
  });

  applyTexts(document);
  if (token) { showWork(); connect(); watchExpiry(); } else { showLogin(); }
})();
