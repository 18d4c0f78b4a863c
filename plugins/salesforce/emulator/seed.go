package emulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// SeedOptions size a deterministic seed.
type SeedOptions struct {
	Accounts                int
	ContactsPerAccount      int
	OpportunitiesPerAccount int
	DocumentsPerAccount     int // one ContentVersion (with its document and link) and one Attachment each
	Users                   int
	Seed                    int64
}

var firstNames = []string{"Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kara", "Luis", "Mia", "Noah", "Olga", "Priya"}
var lastNames = []string{"Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "García", "Hansen", "Ito", "Jensen", "Khan", "López", "Müller", "Nowak", "Okafor", "Petrov"}
var cities = []string{"Lisbon", "Oslo", "Lyon", "Austin", "Osaka", "Nairobi", "Kraków", "Porto", "Denver", "Ghent"}

// Seed fills the org deterministically (same options, same rows and ids)
// in one transaction with prepared inserts in key order. Seeded rows carry
// one shared stamp: in an org without records, a day before now (an org's
// existing data was written before anyone syncs it, so a connector's
// overlap window right after its first read does not hold the whole org);
// otherwise the org clock's next.
func (s *Server) Seed(ctx context.Context, o SeedOptions) error {
	if o.Accounts < 0 || o.ContactsPerAccount < 0 || o.OpportunitiesPerAccount < 0 || o.DocumentsPerAccount < 0 || o.Users < 0 {
		return fmt.Errorf("emulator: seed counts must not be negative")
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	return s.writeRaw(ctx, func(c *conn) error {
		last, _, err := c.queryInt(`SELECT last FROM _clock`)
		if err != nil {
			return err
		}
		// A fresh org (no records yet; the clock holds only its creation
		// time) gets history a day old, and the clock does not move back.
		// An org with records gets the clock's next stamp, so a device that
		// synced before the seed still sees the new rows as changes.
		written, _, err := c.queryInt(`SELECT (SELECT count(*) FROM "Account") + (SELECT count(*) FROM "Contact") + (SELECT count(*) FROM "Opportunity")`)
		if err != nil {
			return err
		}
		stamp := last + 1
		if written == 0 {
			stamp = min(s.now().Add(-24*time.Hour).UnixMilli(), last)
		} else if err := c.exec(`UPDATE _clock SET last = ?1`, stamp); err != nil {
			return err
		}
		// Sequence numbers continue past earlier seeds, so ids stay unique.
		base, _, err := c.queryInt(`SELECT count(*) FROM "Account"`)
		if err != nil {
			return err
		}
		seq := uint64(base) + 1
		tableBase := func(t string) (uint64, error) {
			n, _, err := c.queryInt(`SELECT count(*) FROM ` + quote(t))
			return uint64(n) + 1, err
		}
		cbase, err := tableBase("Contact")
		if err != nil {
			return err
		}
		obase, err := tableBase("Opportunity")
		if err != nil {
			return err
		}
		dbase, err := tableBase("ContentVersion")
		if err != nil {
			return err
		}
		ubase, err := tableBase("User")
		if err != nil {
			return err
		}
		users := []string{defaultUserID}
		for i := range o.Users {
			id := seqID("005", ubase+uint64(i))
			fn, ln := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
			uname := "user" + strconv.FormatUint(ubase+uint64(i), 10) + "@emulator.example"
			if err := c.exec(`INSERT INTO "User" ("Id", "IsDeleted", "Username", "FirstName", "LastName", "Name", "Email", "Alias", "IsActive", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
				VALUES (?1, 0, ?2, ?3, ?4, ?5, ?2, ?6, 1, ?7, ?8, ?7, ?8, ?7)`, id, uname, fn, ln, fn+" "+ln, "u"+strconv.Itoa(i), stamp, defaultUserID); err != nil {
				return err
			}
			users = append(users, id)
		}
		acc, err := c.prep(`INSERT INTO "Account" ("Id", "IsDeleted", "Name", "AccountNumber", "Phone", "Website", "Industry", "NumberOfEmployees", "AnnualRevenue", "BillingCity", "BillingCountry",
			"OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp") VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?12, ?13, ?12)`)
		if err != nil {
			return err
		}
		nAcc := uint64(o.Accounts)
		for i := range nAcc {
			if i%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			id := seqID("001", seq+i)
			name := "Account " + strconv.FormatUint(seq+i, 10)
			owner := users[rng.IntN(len(users))]
			args := []any{id, name, "AN" + strconv.FormatUint(seq+i, 10), "+1 555 " + strconv.Itoa(1000+rng.IntN(9000)), "https://example.com/" + strconv.FormatUint(seq+i, 10),
				industries[rng.IntN(len(industries))], int64(rng.IntN(100000)), float64(rng.IntN(100000000)) + 0.5, cities[rng.IntN(len(cities))], "Portugal", owner, stamp, defaultUserID}
			acc.Reset()
			if err := bindAll(acc, args); err != nil {
				return err
			}
			if err := acc.Exec(); err != nil {
				return fmt.Errorf("emulator: seed accounts: %w", err)
			}
		}
		acc.ClearBindings()
		if o.ContactsPerAccount > 0 {
			st, err := c.prep(`INSERT INTO "Contact" ("Id", "IsDeleted", "FirstName", "LastName", "Email", "Title", "Birthdate", "AccountId", "DoNotCall",
				"OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp") VALUES (?1, 0, ?2, ?3, ?4, 'Buyer', ?5, ?6, 0, ?7, ?8, ?9, ?8, ?9, ?8)`)
			if err != nil {
				return err
			}
			k := uint64(0)
			for i := range nAcc {
				for range o.ContactsPerAccount {
					fn, ln := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
					bd := time.Date(1950+rng.IntN(50), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
					st.Reset()
					if err := bindAll(st, []any{seqID("003", cbase+k), fn, ln, "c" + strconv.FormatUint(cbase+k, 10) + "@example.com", bd, seqID("001", seq+i), users[rng.IntN(len(users))], stamp, defaultUserID}); err != nil {
						return err
					}
					if err := st.Exec(); err != nil {
						return fmt.Errorf("emulator: seed contacts: %w", err)
					}
					k++
				}
			}
		}
		if o.OpportunitiesPerAccount > 0 {
			st, err := c.prep(`INSERT INTO "Opportunity" ("Id", "IsDeleted", "Name", "StageName", "CloseDate", "Amount", "Probability", "AccountId",
				"OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp") VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9, ?10, ?9)`)
			if err != nil {
				return err
			}
			k := uint64(0)
			day := time.UnixMilli(stamp).UTC()
			for i := range nAcc {
				for range o.OpportunitiesPerAccount {
					st.Reset()
					if err := bindAll(st, []any{seqID("006", obase+k), "Deal " + strconv.FormatUint(obase+k, 10), stages[rng.IntN(len(stages))],
						day.AddDate(0, 0, rng.IntN(365)).Format("2006-01-02"), float64(rng.IntN(1000000)), float64(rng.IntN(101)), seqID("001", seq+i), users[rng.IntN(len(users))], stamp, defaultUserID}); err != nil {
						return err
					}
					if err := st.Exec(); err != nil {
						return fmt.Errorf("emulator: seed opportunities: %w", err)
					}
					k++
				}
			}
		}
		if o.DocumentsPerAccount > 0 {
			k := uint64(0)
			for i := range nAcc {
				for range o.DocumentsPerAccount {
					n := dbase + k
					data := []byte("document " + strconv.FormatUint(n, 10) + " of " + seqID("001", seq+i) + "\n")
					ver, doc := seqID("068", n), seqID("069", n)
					if err := c.exec(`INSERT INTO "ContentDocument" ("Id", "IsDeleted", "Title", "FileType", "ContentSize", "LatestPublishedVersionId", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
						VALUES (?1, 0, ?2, 'TEXT', ?3, ?4, ?5, ?6, ?5, ?6, ?5, ?6)`, doc, "Doc "+strconv.FormatUint(n, 10), int64(len(data)), ver, defaultUserID, stamp); err != nil {
						return err
					}
					if err := c.exec(`INSERT INTO "ContentVersion" ("Id", "IsDeleted", "ContentDocumentId", "Title", "PathOnClient", "VersionData", "FileType", "ContentSize", "IsLatest", "VersionNumber", "FirstPublishLocationId", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
						VALUES (?1, 0, ?2, ?3, ?4, ?5, 'TEXT', ?6, 1, '1', ?7, ?8, ?9, ?8, ?9, ?8, ?9)`, ver, doc, "Doc "+strconv.FormatUint(n, 10), "doc"+strconv.FormatUint(n, 10)+".txt", data, int64(len(data)), seqID("001", seq+i), defaultUserID, stamp); err != nil {
						return err
					}
					if err := c.exec(`INSERT INTO "ContentDocumentLink" ("Id", "IsDeleted", "LinkedEntityId", "ContentDocumentId", "ShareType", "Visibility", "SystemModstamp") VALUES (?1, 0, ?2, ?3, 'V', 'AllUsers', ?4)`,
						seqID("06A", n), seqID("001", seq+i), doc, stamp); err != nil {
						return err
					}
					if err := c.exec(`INSERT INTO "Attachment" ("Id", "IsDeleted", "ParentId", "Name", "Body", "BodyLength", "ContentType", "IsPrivate", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")
						VALUES (?1, 0, ?2, ?3, ?4, ?5, 'text/plain', 0, ?6, ?7, ?6, ?7, ?6, ?7)`, seqID("00P", n), seqID("001", seq+i), "note"+strconv.FormatUint(n, 10)+".txt", data, int64(len(data)), defaultUserID, stamp); err != nil {
						return err
					}
					k++
				}
			}
		}
		return nil
	})
}
