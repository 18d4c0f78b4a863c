module github.com/fieldsync/fieldsync

go 1.26
