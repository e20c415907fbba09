module github.com/globalchat/globalchat

go 1.26.8
