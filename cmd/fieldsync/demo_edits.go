package main

import (
	"fmt"
	"strconv"

	"github.com/fieldsync/fieldsync/core/store"
)

// row names one record the demo edits and what it set.
type row struct {
	id    string
	label string // a name a person recognises
}

// targets are the records the demo edits and what each side wrote, so the
// report can check where every edit ended up.
type targets struct {
	conflict   row    // the account alice and the admin both renamed
	oldName    string // its name before
	aliceName  string
	adminName  string
	aliceCity  string // alice's other change to that account
	newAccount row    // created offline by alice
	newContact row    // created offline by alice, under newAccount
	employees  row    // another account alice updated
	empValue   string
	contact    row // the contact bob edited
	phone      string
	opp        row // the opportunity the admin edited
	prob       string
}

// edit makes the offline edits: alice's and bob's on their stores, the
// admin's on the server file, each through a plain SQLite connection.
func (d *demo) edit() error {
	srv, err := openSQL(d.server)
	if err != nil {
		return fail(err, "cannot open the server file")
	}
	defer srv.Close()
	if err := d.pick(srv); err != nil {
		return fail(err, "cannot pick the rows to edit")
	}
	t := &d.t

	alice, err := openSQL(d.alice.db)
	if err != nil {
		return fail(err, "cannot open alice's store")
	}
	defer alice.Close()
	t.newAccount.label = "Fjord Bikes"
	t.newAccount.id, err = alice.value(`INSERT INTO account (name, city, email, employees, active)
		VALUES (?, 'Bergen', 'hello@fjordbikes.example', 12, 1) RETURNING accountid`, t.newAccount.label)
	if err == nil {
		t.newContact.label = "Ada Lovelace"
		t.newContact.id, err = alice.value(`INSERT INTO contact (parentaccountid, firstname, lastname, email, jobtitle)
			VALUES (?, 'Ada', 'Lovelace', 'ada@fjordbikes.example', 'CEO') RETURNING contactid`, t.newAccount.id)
	}
	if err == nil {
		err = alice.exec(`UPDATE account SET employees = ? WHERE accountid = ?`, t.empValue, t.employees.id)
	}
	if err == nil {
		err = alice.exec(`UPDATE account SET name = ?, city = ? WHERE accountid = ?`, t.aliceName, t.aliceCity, t.conflict.id)
	}
	if err != nil {
		return fail(err, "alice's edits failed")
	}
	d.say("   alice  new account %q with a new contact %q under it", t.newAccount.label, t.newContact.label)
	d.say("   alice  account %q: employees → %s", t.employees.label, t.empValue)
	d.say("   alice  account %q: name → %q, city → %s   ← overlaps", t.oldName, t.aliceName, t.aliceCity)

	bob, err := openSQL(d.bob.db)
	if err != nil {
		return fail(err, "cannot open bob's store")
	}
	defer bob.Close()
	if err := bob.exec(`UPDATE contact SET phone = ? WHERE contactid = ?`, t.phone, t.contact.id); err != nil {
		return fail(err, "bob's edit failed")
	}
	d.say("   bob    contact %q: phone → %s", t.contact.label, t.phone)

	err = srv.exec(`UPDATE opportunity SET probability = ? WHERE opportunityid = ?`, t.prob, t.opp.id)
	if err == nil {
		err = srv.exec(`UPDATE account SET name = ? WHERE accountid = ?`, t.adminName, t.conflict.id)
	}
	if err != nil {
		return fail(err, "the admin's edits failed")
	}
	d.say("   admin  opportunity %q: probability → %s%%  (on the server file)", t.opp.label, t.prob)
	d.say("   admin  account %q: name → %q   ← overlaps", t.oldName, t.adminName)
	return nil
}

// pick chooses the records to edit, the same ones for the same seed.
func (d *demo) pick(srv *sqlFile) error {
	t := &d.t
	r, err := srv.query(`SELECT accountid, name, city FROM account ORDER BY accountid LIMIT 1`)
	if err != nil || r == nil {
		return orNoRows(err, "account")
	}
	t.conflict = row{id: r[0], label: r[1]}
	t.oldName, t.aliceName, t.adminName = r[1], r[1]+" Europe", r[1]+" Holdings"
	t.aliceCity = "Lisbon"
	if r[2] == t.aliceCity {
		t.aliceCity = "Porto"
	}
	if r, err = srv.query(`SELECT accountid, name, coalesce(employees, 0) FROM account ORDER BY accountid LIMIT 1 OFFSET 1`); err != nil || r == nil {
		return orNoRows(err, "account")
	}
	n, _ := strconv.Atoi(r[2])
	t.employees, t.empValue = row{id: r[0], label: r[1]}, strconv.Itoa(n+50)
	if r, err = srv.query(`SELECT contactid, firstname || ' ' || lastname, coalesce(phone, '') FROM contact ORDER BY contactid LIMIT 1`); err != nil || r == nil {
		return orNoRows(err, "contact")
	}
	t.contact, t.phone = row{id: r[0], label: r[1]}, "+1 555 0100"
	if r[2] == t.phone {
		t.phone = "+1 555 0199"
	}
	if r, err = srv.query(`SELECT opportunityid, name, coalesce(probability, 0) FROM opportunity ORDER BY opportunityid LIMIT 1`); err != nil || r == nil {
		return orNoRows(err, "opportunity")
	}
	t.opp, t.prob = row{id: r[0], label: r[1]}, "90"
	if r[2] == t.prob {
		t.prob = "10"
	}
	return nil
}

func orNoRows(err error, entity string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("the server has no %s rows", entity)
}

// report explains how the conflict was settled, from the data alone, and
// checks that the server and both devices agree on every edited record.
func (d *demo) report() error {
	srv, err := openSQL(d.server)
	if err != nil {
		return fail(err, "cannot open the server file")
	}
	defer srv.Close()
	alice, err := openSQL(d.alice.db)
	if err != nil {
		return fail(err, "cannot open alice's store")
	}
	defer alice.Close()
	bob, err := openSQL(d.bob.db)
	if err != nil {
		return fail(err, "cannot open bob's store")
	}
	defer bob.Close()
	all := []place{{"server", srv}, {"alice", alice}, {"bob", bob}}
	t := &d.t

	// How the conflict was settled, read from where the values ended up.
	name, err := srv.value(`SELECT name FROM account WHERE accountid = ?`, t.conflict.id)
	if err != nil {
		return fail(err, "cannot read the server")
	}
	city, err := srv.value(`SELECT city FROM account WHERE accountid = ?`, t.conflict.id)
	if err != nil {
		return fail(err, "cannot read the server")
	}
	d.say("5. The conflict: account %q (%s), field name", t.oldName, short(t.conflict.id, 9))
	d.say("   alice said %q, the server (admin) said %q.", t.aliceName, t.adminName)
	switch name {
	case t.adminName:
		d.say("   Settled by alice's policy, merge (tie → server): the server's name stays everywhere;")
	case t.aliceName:
		d.say("   Settled for the device: alice's name won everywhere;")
	default:
		d.say("   Settled as a merge: the name is now %q;", name)
	}
	if city == t.aliceCity {
		d.say("   alice's other change to that account (city → %s) did not overlap: merged in and sent.", t.aliceCity)
	} else {
		d.say("   alice's other change to that account (city → %s) was lost: the server says %q.", t.aliceCity, city)
	}

	d.say("")
	d.say("6. Do the server and both devices agree?")
	d.agree(all, fmt.Sprintf("account %q: name %q, city %s", t.oldName, name, city),
		name+"|"+city, `SELECT name || '|' || city FROM account WHERE accountid = ?`, t.conflict.id)
	d.agree(all, fmt.Sprintf("alice's new account %q and its contact %q, linked", t.newAccount.label, t.newContact.label),
		t.newAccount.label+"|"+t.newAccount.id,
		`SELECT a.name || '|' || c.parentaccountid FROM contact c JOIN account a ON a.accountid = c.parentaccountid WHERE c.contactid = ?`, t.newContact.id)
	d.agree(all, fmt.Sprintf("alice's update: account %q employees %s", t.employees.label, t.empValue),
		t.empValue, `SELECT employees FROM account WHERE accountid = ?`, t.employees.id)
	d.agree(all, fmt.Sprintf("bob's update: contact %q phone %s", t.contact.label, t.phone),
		t.phone, `SELECT phone FROM contact WHERE contactid = ?`, t.contact.id)
	d.agree(all, fmt.Sprintf("the admin's update: opportunity %q probability %s", short(t.opp.label, 30), t.prob),
		t.prob, `SELECT probability FROM opportunity WHERE opportunityid = ?`, t.opp.id)
	counts, err := srv.value(`SELECT (SELECT count(*) FROM account) || '|' || (SELECT count(*) FROM contact) || '|' || (SELECT count(*) FROM opportunity)`)
	if err != nil {
		return fail(err, "cannot count the server's rows")
	}
	var a, c, o int
	fmt.Sscanf(counts, "%d|%d|%d", &a, &c, &o)
	d.agree(all, fmt.Sprintf("row counts: %s, %s, %s", counted(a, "account", "accounts"), counted(c, "contact", "contacts"), counted(o, "opportunity", "opportunities")),
		counts, `SELECT (SELECT count(*) FROM account) || '|' || (SELECT count(*) FROM contact) || '|' || (SELECT count(*) FROM opportunity)`)
	return d.settled()
}

// place is one copy of the data: the server's file or a device's store.
type place struct {
	name string
	db   *sqlFile
}

// agree checks that every place answers query with want, and says so.
func (d *demo) agree(places []place, label, want, query string, args ...any) {
	var wrong []string
	for _, p := range places {
		got, err := p.db.value(query, args...)
		switch {
		case err != nil:
			wrong = append(wrong, fmt.Sprintf("%s: %v", p.name, err))
		case got != want:
			wrong = append(wrong, fmt.Sprintf("%s has %q", p.name, got))
		}
	}
	if len(wrong) == 0 {
		d.say("   ✓ %s", label)
		return
	}
	d.failed++
	d.say("   ✗ %s: want %q, but %v", label, want, wrong)
}

// settled checks that both devices have nothing left to send and no
// conflict waiting, through the store's own API.
func (d *demo) settled() error {
	var notes []string
	for _, dev := range []demoDevice{d.alice, d.bob} {
		st, err := store.Open(d.ctx, dev.db)
		if err != nil {
			return fail(err, "cannot open %s's store", dev.name)
		}
		pending, err := st.PendingCount(d.ctx)
		if err == nil {
			var open []store.ParkedConflict
			open, err = st.Conflicts(d.ctx, false)
			n := 0
			for _, c := range pending {
				n += c
			}
			if n > 0 || len(open) > 0 {
				notes = append(notes, fmt.Sprintf("%s has %d pending changes and %d open conflicts", dev.name, n, len(open)))
			}
		}
		st.Close()
		if err != nil {
			return fail(err, "cannot read %s's store", dev.name)
		}
	}
	if len(notes) == 0 {
		d.say("   ✓ nothing left to upload and no open conflicts on alice and bob")
		return nil
	}
	d.failed++
	d.say("   ✗ %v", notes)
	return nil
}
